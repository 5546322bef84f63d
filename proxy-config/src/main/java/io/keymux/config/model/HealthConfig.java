package io.keymux.config.model;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Outlier detection for keys: when a key's circuit opens, how long a key cools down, and how keys
 * that the provider took out of service are probed.
 *
 * @param failureThreshold consecutive 5xx, connect or timeout failures that open a key's circuit
 * @param circuitCooldown how long an open circuit stays open before one probe request is let through
 * @param rateLimitCooldown cooldown after a 429 that names no reset time
 * @param quotaProbe how often a {@code quota_exhausted} key gets one real request
 * @param disabledProbe how often a disabled key (401/403) gets one real request, or {@code null}
 *     ({@code off}): never, until its secret or upstream changes
 * @param overloadBackoff how long an upstream that said it is overloaded gets no request
 */
public record HealthConfig(
        int failureThreshold,
        Duration circuitCooldown,
        Duration rateLimitCooldown,
        Duration quotaProbe,
        @Nullable Duration disabledProbe,
        Duration overloadBackoff) {

    public static final Duration DEFAULT_QUOTA_PROBE = Duration.ofMinutes(10);
    public static final Duration DEFAULT_OVERLOAD_BACKOFF = Duration.ofSeconds(5);

    /** The circuit and cooldown settings, with the probe and backoff settings at their defaults. */
    public HealthConfig(int failureThreshold, Duration circuitCooldown, Duration rateLimitCooldown) {
        this(failureThreshold, circuitCooldown, rateLimitCooldown, DEFAULT_QUOTA_PROBE, null,
                DEFAULT_OVERLOAD_BACKOFF);
    }

    /** The defaults of SPEC.md section 2. */
    public static HealthConfig defaults() {
        return new HealthConfig(3, Duration.ofSeconds(30), Duration.ofSeconds(60));
    }
}
