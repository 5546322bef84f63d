package io.keymux.config.model;

import java.util.List;
import java.util.Objects;
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
 * @param costPerCachedInputToken USD per input token the provider served from its prompt cache, or
 *     {@code null} to price those at the input price
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
        @Nullable Double budgetWarnAt,
        @Nullable Double costPerCachedInputToken) {

    /** The task type that lends a key to every task as a last resort. */
    public static final String ANY_TASK = "*";

    public ApiKeyConfig {
        taskTypes = List.copyOf(taskTypes);
        models = List.copyOf(models);
    }

    /** Whether {@code "*"} is among the task types. */
    public boolean servesAnyTask() {
        return taskTypes.contains(ANY_TASK);
    }

    /**
     * What an answer cost on this key, in USD: prompt tokens at {@link #inputTokenCost()} plus
     * completion tokens at {@link #outputTokenCost()}, no prompt token served from a cache.
     */
    public double costUsd(long promptTokens, long completionTokens) {
        return costUsd(promptTokens, 0, completionTokens);
    }

    /**
     * What an answer cost on this key, in USD: the uncached prompt tokens at {@link #inputTokenCost()},
     * the {@code cachedPromptTokens} (a part of {@code promptTokens}) at {@link #cachedInputTokenCost()},
     * and completion tokens at {@link #outputTokenCost()}. The one cost formula: the broker's spend per
     * key, the pipeline's per task and client, the history and the shared (Redis) spend all use it.
     */
    public double costUsd(long promptTokens, long cachedPromptTokens, long completionTokens) {
        long cached = Math.max(0, Math.min(cachedPromptTokens, promptTokens));
        return (promptTokens - cached) * inputTokenCost() + cached * cachedInputTokenCost()
                + completionTokens * outputTokenCost();
    }

    /**
     * What the provider's prompt cache saved on an answer, in USD: {@code cachedPromptTokens} at the
     * input price less their cached price; 0 when the key sets no cached price.
     */
    public double cacheSavingUsd(long cachedPromptTokens) {
        return Math.max(0, cachedPromptTokens) * (inputTokenCost() - cachedInputTokenCost());
    }

    /** USD per input token served from the provider's prompt cache: {@code cost_per_cached_input_token}, else the input price. */
    public double cachedInputTokenCost() {
        return costPerCachedInputToken != null ? costPerCachedInputToken : inputTokenCost();
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

    /**
     * A key by name, every optional setting at its default: unlimited, priority 0, weight 1, no cost,
     * no budget, upstream {@code openai}.
     *
     * <pre>{@code
     * ApiKeyConfig key = ApiKeyConfig.builder("k1", Secret.of(value)).taskTypes("chat").maxRpm(100L).build();
     * }</pre>
     */
    public static Builder builder(String keyId, Secret apiKey) {
        return new Builder(keyId, apiKey);
    }

    /** A builder holding this key's settings, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder(keyId, apiKey);
        b.upstream = upstream;
        b.taskTypes = taskTypes;
        b.maxRpm = maxRpm;
        b.maxTpm = maxTpm;
        b.rpmBurst = rpmBurst;
        b.tpmBurst = tpmBurst;
        b.maxConcurrent = maxConcurrent;
        b.priority = priority;
        b.weight = weight;
        b.costPerToken = costPerToken;
        b.costPerInputToken = costPerInputToken;
        b.costPerOutputToken = costPerOutputToken;
        b.dailyBudgetUsd = dailyBudgetUsd;
        b.models = models;
        b.budgetWarnAt = budgetWarnAt;
        b.costPerCachedInputToken = costPerCachedInputToken;
        return b;
    }

    /** Builds an {@link ApiKeyConfig} by name; the defaults are those of SPEC.md section 2. */
    public static final class Builder {
        private String keyId;
        private Secret apiKey;
        private String upstream = "openai";
        private List<String> taskTypes = List.of();
        private @Nullable Long maxRpm;
        private @Nullable Long maxTpm;
        private @Nullable Long rpmBurst;
        private @Nullable Long tpmBurst;
        private @Nullable Integer maxConcurrent;
        private int priority;
        private int weight = 1;
        private @Nullable Double costPerToken;
        private @Nullable Double costPerInputToken;
        private @Nullable Double costPerOutputToken;
        private @Nullable Double dailyBudgetUsd;
        private List<ModelLimits> models = List.of();
        private @Nullable Double budgetWarnAt;
        private @Nullable Double costPerCachedInputToken;

        private Builder(String keyId, Secret apiKey) {
            this.keyId = Objects.requireNonNull(keyId, "keyId");
            this.apiKey = Objects.requireNonNull(apiKey, "apiKey");
        }

        public Builder keyId(String keyId) { this.keyId = keyId; return this; }
        public Builder apiKey(Secret apiKey) { this.apiKey = apiKey; return this; }
        public Builder upstream(String upstream) { this.upstream = upstream; return this; }
        public Builder taskTypes(List<String> taskTypes) { this.taskTypes = taskTypes; return this; }
        public Builder taskTypes(String... taskTypes) { this.taskTypes = List.of(taskTypes); return this; }
        /** Requests a minute; also the request bucket's capacity unless {@link #rpmBurst} says otherwise. */
        public Builder maxRpm(@Nullable Long maxRpm) { this.maxRpm = maxRpm; return this; }
        /** Tokens a minute; also the token bucket's capacity unless {@link #tpmBurst} says otherwise. */
        public Builder maxTpm(@Nullable Long maxTpm) { this.maxTpm = maxTpm; return this; }
        public Builder rpmBurst(@Nullable Long rpmBurst) { this.rpmBurst = rpmBurst; return this; }
        public Builder tpmBurst(@Nullable Long tpmBurst) { this.tpmBurst = tpmBurst; return this; }
        public Builder maxConcurrent(@Nullable Integer maxConcurrent) { this.maxConcurrent = maxConcurrent; return this; }
        public Builder priority(int priority) { this.priority = priority; return this; }
        public Builder weight(int weight) { this.weight = weight; return this; }
        public Builder costPerToken(@Nullable Double cost) { this.costPerToken = cost; return this; }
        public Builder costPerInputToken(@Nullable Double cost) { this.costPerInputToken = cost; return this; }
        public Builder costPerOutputToken(@Nullable Double cost) { this.costPerOutputToken = cost; return this; }
        /** USD per input token served from the provider's prompt cache; unset prices them as any input token. */
        public Builder costPerCachedInputToken(@Nullable Double cost) { this.costPerCachedInputToken = cost; return this; }
        public Builder dailyBudgetUsd(@Nullable Double budget) { this.dailyBudgetUsd = budget; return this; }
        public Builder models(List<ModelLimits> models) { this.models = models; return this; }
        public Builder budgetWarnAt(@Nullable Double share) { this.budgetWarnAt = share; return this; }

        /** The key. An unset burst stays {@code null}, which the buckets read as the per-minute limit. */
        public ApiKeyConfig build() {
            return new ApiKeyConfig(keyId, apiKey, upstream, taskTypes, maxRpm, maxTpm, rpmBurst, tpmBurst, maxConcurrent,
                    priority, weight, costPerToken, costPerInputToken, costPerOutputToken, dailyBudgetUsd, models,
                    budgetWarnAt, costPerCachedInputToken);
        }
    }
}
