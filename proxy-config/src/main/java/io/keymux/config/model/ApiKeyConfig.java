package io.keymux.config.model;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One upstream API key and its limits. Unset limits are {@code null}: unlimited on that axis.
 *
 * @param upstream the resolved upstream name (the key's own, else its first task's, else
 *     {@code default_upstream})
 * @param taskTypes task names this key serves; {@code "*"} lends the key to every task as a last resort
 * @param rpmBurst bucket capacity for requests, defaults to {@code maxRpm}
 * @param tpmBurst bucket capacity for tokens, defaults to {@code maxTpm}
 * @param priority higher is preferred by the {@code priority} strategy
 * @param weight share under the {@code weighted} strategy
 * @param costPerToken USD per token when input and output cost the same
 * @param models limits per model pattern, in declaration order (the first matching pattern
 *     picks the bucket); empty when the key has only key-wide limits
 * @param budgetWarnAt share (0..1] of {@code dailyBudgetUsd} past which the key is ranked after
 *     the keys under theirs, or {@code null}
 */
public record ApiKeyConfig(
        String keyId,
        Secret apiKey,
        String upstream,
        List<String> taskTypes,
        @Nullable Long maxRpm,
        @Nullable Long maxTpm,
        @Nullable Long rpmBurst,
        @Nullable Long tpmBurst,
        @Nullable Integer maxConcurrent,
        int priority,
        int weight,
        @Nullable Double costPerToken,
        @Nullable Double costPerInputToken,
        @Nullable Double costPerOutputToken,
        @Nullable Double dailyBudgetUsd,
        List<ModelLimits> models,
        @Nullable Double budgetWarnAt) {

    /** The task type that lends a key to every task as a last resort. */
    public static final String ANY_TASK = "*";

    public ApiKeyConfig {
        taskTypes = List.copyOf(taskTypes);
        models = List.copyOf(models);
    }

    /** A key with no per-model limits and no budget warning. */
    public ApiKeyConfig(
            String keyId,
            Secret apiKey,
            String upstream,
            List<String> taskTypes,
            @Nullable Long maxRpm,
            @Nullable Long maxTpm,
            @Nullable Long rpmBurst,
            @Nullable Long tpmBurst,
            @Nullable Integer maxConcurrent,
            int priority,
            int weight,
            @Nullable Double costPerToken,
            @Nullable Double costPerInputToken,
            @Nullable Double costPerOutputToken,
            @Nullable Double dailyBudgetUsd) {
        this(keyId, apiKey, upstream, taskTypes, maxRpm, maxTpm, rpmBurst, tpmBurst, maxConcurrent, priority, weight,
                costPerToken, costPerInputToken, costPerOutputToken, dailyBudgetUsd, List.of(), null);
    }

    /** Whether {@code "*"} is among the task types. */
    public boolean servesAnyTask() {
        return taskTypes.contains(ANY_TASK);
    }

    /**
     * What an answer cost on this key, in USD: prompt tokens at {@link #inputTokenCost()} plus
     * completion tokens at {@link #outputTokenCost()}. The one cost formula: the broker's spend per
     * key, the pipeline's per task and client and the shared (Redis) spend all use it.
     */
    public double costUsd(long promptTokens, long completionTokens) {
        return promptTokens * inputTokenCost() + completionTokens * outputTokenCost();
    }

    /** USD per prompt token: {@code cost_per_input_token}, else {@code cost_per_token}, else 0. */
    public double inputTokenCost() {
        if (costPerInputToken != null) {
            return costPerInputToken;
        }
        return costPerToken != null ? costPerToken : 0.0;
    }

    /** USD per completion token: {@code cost_per_output_token}, else {@code cost_per_token}, else 0. */
    public double outputTokenCost() {
        if (costPerOutputToken != null) {
            return costPerOutputToken;
        }
        return costPerToken != null ? costPerToken : 0.0;
    }
}
