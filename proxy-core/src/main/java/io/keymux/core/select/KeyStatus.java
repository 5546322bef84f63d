package io.keymux.core.select;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A read-only snapshot of one key for {@code /admin/keys} and {@code /admin/metrics}.
 *
 * @param state {@code active}, {@code cooling_down}, {@code circuit_open}, {@code disabled},
 *     {@code quota_exhausted} or {@code budget_exhausted}
 * @param cooldownUntilMillis epoch millis when a cooling key returns or an open circuit's probe may go
 * @param spendToday USD spent on this key since 00:00 UTC
 * @param totalRequests settled attempts
 * @param successes attempts answered with a status below 400
 * @param averageLatencyMillis mean latency of answered attempts, 0 when none
 * @param models the key's {@code models} buckets by pattern, in declaration order; empty without
 * @param budgetWarning whether the key is past its {@code budget_warn_at} share of the daily budget
 */
public record KeyStatus(
        String keyId,
        String upstream,
        List<String> taskTypes,
        State state,
        Limits limits,
        Usage usage,
        @Nullable Long cooldownUntilMillis,
        double spendToday,
        long totalRequests,
        long successes,
        double averageLatencyMillis,
        long promptTokens,
        long completionTokens,
        double totalCost,
        Map<String, ModelStatus> models,
        boolean budgetWarning) {

    public KeyStatus {
        taskTypes = List.copyOf(taskTypes);
        models = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(models));
    }

    /** A key without {@code models} buckets and under any budget warning. */
    public KeyStatus(String keyId, String upstream, List<String> taskTypes, State state, Limits limits, Usage usage,
            @Nullable Long cooldownUntilMillis, double spendToday, long totalRequests, long successes,
            double averageLatencyMillis, long promptTokens, long completionTokens, double totalCost) {
        this(keyId, upstream, taskTypes, state, limits, usage, cooldownUntilMillis, spendToday, totalRequests, successes,
                averageLatencyMillis, promptTokens, completionTokens, totalCost, Map.of(), false);
    }

    /**
     * One {@code models} bucket of a key.
     *
     * @param state {@code active} or {@code cooling_down} (a 429 naming that model)
     * @param limits {@code concurrent} is always {@code null}: concurrency is key-wide
     * @param cooldownUntilMillis epoch millis when a cooling bucket returns, else {@code null}
     */
    public record ModelStatus(State state, Limits limits, Usage usage, @Nullable Long cooldownUntilMillis) {}

    /** Success rate in percent (100 when nothing was settled yet). */
    public double successRatePercent() {
        return totalRequests == 0 ? 100.0 : 100.0 * successes / totalRequests;
    }

    /** Prompt plus completion tokens. */
    public long totalTokens() {
        return promptTokens + completionTokens;
    }

    /** A key's state, most severe first when several hold. */
    public enum State {
        ACTIVE,
        COOLING_DOWN,
        CIRCUIT_OPEN,
        DISABLED,
        QUOTA_EXHAUSTED,
        BUDGET_EXHAUSTED;

        /** The API spelling, for example {@code cooling_down}. */
        public String apiName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Configured limits; {@code null} when unset (unlimited). */
    public record Limits(@Nullable Long rpm, @Nullable Long tpm, @Nullable Integer concurrent) {}

    /**
     * Use over the last 60 seconds.
     *
     * @param rpm leases granted in the last 60 s
     * @param tpm tokens settled (or reserved, when the answer carried no usage) in the last 60 s
     */
    public record Usage(long rpm, long tpm, int inFlight) {}
}
