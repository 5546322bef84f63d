package io.keymux.server.sharedstate;

import io.keymux.config.model.ApiKeyConfig;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The limits of one upstream key as the shared state enforces them ({@code null} is unlimited on
 * that axis), and the fingerprint of the key's credential that a {@code disabled} mark is tied to.
 * Not {@link io.keymux.core.ratelimit.SharedLimits}, which holds one replica's local buckets.
 *
 * @param maxRpm requests refilled per 60 s
 * @param rpmBurst request bucket capacity; {@code null} means {@code maxRpm}
 * @param maxTpm tokens refilled per 60 s
 * @param tpmBurst token bucket capacity; {@code null} means {@code maxTpm}
 * @param maxConcurrent requests in flight across all replicas
 * @param dailyBudgetUsd spend per UTC day after which the key is {@code budget_exhausted}
 * @param credential a short one-way fingerprint of the key's upstream and secret (12 hex digits of
 *     SHA-256: it identifies a rotation, it cannot give the secret back); a {@code disabled} mark
 *     holds the fingerprint of the credential the upstream refused, so a new secret or upstream
 *     re-enables the key on every replica, across restarts too
 */
public record SharedLimits(
        @Nullable Long maxRpm,
        @Nullable Long rpmBurst,
        @Nullable Long maxTpm,
        @Nullable Long tpmBurst,
        @Nullable Integer maxConcurrent,
        @Nullable Double dailyBudgetUsd,
        String credential) {

    private static final SharedLimits UNLIMITED = new SharedLimits(null, null, null, null, null, null, "");

    public SharedLimits {
        positive("max_rpm", maxRpm);
        positive("rpm_burst", rpmBurst);
        positive("max_tpm", maxTpm);
        positive("tpm_burst", tpmBurst);
        Objects.requireNonNull(credential, "credential");
        if (maxConcurrent != null && maxConcurrent <= 0) {
            throw new IllegalArgumentException("max_concurrent: " + maxConcurrent + " (expected: > 0)");
        }
        if (dailyBudgetUsd != null && !(dailyBudgetUsd >= 0)) {
            throw new IllegalArgumentException("daily_budget_usd: " + dailyBudgetUsd + " (expected: >= 0)");
        }
    }

    /** Limits without a credential (tests and benchmarks). */
    public SharedLimits(@Nullable Long maxRpm, @Nullable Long rpmBurst, @Nullable Long maxTpm, @Nullable Long tpmBurst,
            @Nullable Integer maxConcurrent, @Nullable Double dailyBudgetUsd) {
        this(maxRpm, rpmBurst, maxTpm, tpmBurst, maxConcurrent, dailyBudgetUsd, "");
    }

    /** No limit on any axis. */
    public static SharedLimits unlimited() {
        return UNLIMITED;
    }

    /** The limits configured for {@code key}, with its credential's fingerprint. */
    public static SharedLimits of(ApiKeyConfig key) {
        return new SharedLimits(key.maxRpm(), key.rpmBurst(), key.maxTpm(), key.tpmBurst(), key.maxConcurrent(),
                key.dailyBudgetUsd(), fingerprint(key));
    }

    /** These limits with another credential fingerprint. */
    public SharedLimits withCredential(String fingerprint) {
        return new SharedLimits(maxRpm, rpmBurst, maxTpm, tpmBurst, maxConcurrent, dailyBudgetUsd, fingerprint);
    }

    /** 12 hex digits of SHA-256 over the key's upstream and secret. */
    static String fingerprint(ApiKeyConfig key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(key.upstream().getBytes(StandardCharsets.UTF_8));
            sha.update((byte) '\n');
            sha.update(key.apiKey().reveal().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest(), 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required JDK algorithm", e);
        }
    }

    @Override
    public String toString() {
        return "SharedLimits[maxRpm=" + maxRpm + ", rpmBurst=" + rpmBurst + ", maxTpm=" + maxTpm + ", tpmBurst="
                + tpmBurst + ", maxConcurrent=" + maxConcurrent + ", dailyBudgetUsd=" + dailyBudgetUsd + "]";
    }

    private static void positive(String name, @Nullable Long value) {
        if (value != null && value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
    }
}
