package io.keymux.server.redis;

import io.keymux.config.model.ApiKeyConfig;
import org.jspecify.annotations.Nullable;

/**
 * The limits of one upstream key as the shared state enforces them; {@code null} is unlimited
 * on that axis.
 *
 * @param maxRpm requests refilled per 60 s
 * @param rpmBurst request bucket capacity; {@code null} means {@code maxRpm}
 * @param maxTpm tokens refilled per 60 s
 * @param tpmBurst token bucket capacity; {@code null} means {@code maxTpm}
 * @param maxConcurrent requests in flight across all replicas
 * @param dailyBudgetUsd spend per UTC day after which the key is {@code budget_exhausted}
 */
public record KeyLimits(
        @Nullable Long maxRpm,
        @Nullable Long rpmBurst,
        @Nullable Long maxTpm,
        @Nullable Long tpmBurst,
        @Nullable Integer maxConcurrent,
        @Nullable Double dailyBudgetUsd) {

    private static final KeyLimits UNLIMITED = new KeyLimits(null, null, null, null, null, null);

    public KeyLimits {
        positive("max_rpm", maxRpm);
        positive("rpm_burst", rpmBurst);
        positive("max_tpm", maxTpm);
        positive("tpm_burst", tpmBurst);
        if (maxConcurrent != null && maxConcurrent <= 0) {
            throw new IllegalArgumentException("max_concurrent: " + maxConcurrent + " (expected: > 0)");
        }
        if (dailyBudgetUsd != null && !(dailyBudgetUsd >= 0)) {
            throw new IllegalArgumentException("daily_budget_usd: " + dailyBudgetUsd + " (expected: >= 0)");
        }
    }

    /** No limit on any axis. */
    public static KeyLimits unlimited() {
        return UNLIMITED;
    }

    /** The limits configured for {@code key}. */
    public static KeyLimits of(ApiKeyConfig key) {
        return new KeyLimits(key.maxRpm(), key.rpmBurst(), key.maxTpm(), key.tpmBurst(), key.maxConcurrent(),
                key.dailyBudgetUsd());
    }

    private static void positive(String name, @Nullable Long value) {
        if (value != null && value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
    }
}
