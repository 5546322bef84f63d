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
    /** How often a disabled key is probed unless {@code health.disabled_probe} says otherwise. */
    public static final Duration DEFAULT_DISABLED_PROBE = Duration.ofMinutes(10);
    public static final Duration DEFAULT_OVERLOAD_BACKOFF = Duration.ofSeconds(5);

    /** The defaults of SPEC.md section 2. */
    public static HealthConfig defaults() {
        return builder().build();
    }

    /** A builder with every setting at its default. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these settings, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.failureThreshold = failureThreshold;
        b.circuitCooldown = circuitCooldown;
        b.rateLimitCooldown = rateLimitCooldown;
        b.quotaProbe = quotaProbe;
        b.disabledProbe = disabledProbe;
        b.overloadBackoff = overloadBackoff;
        return b;
    }

    /** Builds a {@link HealthConfig} by name; the defaults are those of SPEC.md section 2. */
    public static final class Builder {
        private int failureThreshold = 3;
        private Duration circuitCooldown = Duration.ofSeconds(30);
        private Duration rateLimitCooldown = Duration.ofSeconds(60);
        private Duration quotaProbe = DEFAULT_QUOTA_PROBE;
        // A key the provider refused once is probed by default: a disabled key that nothing brings
        // back would let one bad answer take it away for good.
        private @Nullable Duration disabledProbe = DEFAULT_DISABLED_PROBE;
        private Duration overloadBackoff = DEFAULT_OVERLOAD_BACKOFF;

        private Builder() {}

        public Builder failureThreshold(int failureThreshold) {
            this.failureThreshold = failureThreshold;
            return this;
        }

        public Builder circuitCooldown(Duration circuitCooldown) {
            this.circuitCooldown = circuitCooldown;
            return this;
        }

        public Builder rateLimitCooldown(Duration rateLimitCooldown) {
            this.rateLimitCooldown = rateLimitCooldown;
            return this;
        }

        public Builder quotaProbe(Duration quotaProbe) {
            this.quotaProbe = quotaProbe;
            return this;
        }

        /** {@code null} is {@code off}: never probed. */
        public Builder disabledProbe(@Nullable Duration disabledProbe) {
            this.disabledProbe = disabledProbe;
            return this;
        }

        public Builder overloadBackoff(Duration overloadBackoff) {
            this.overloadBackoff = overloadBackoff;
            return this;
        }

        public HealthConfig build() {
            return new HealthConfig(failureThreshold, circuitCooldown, rateLimitCooldown, quotaProbe, disabledProbe, overloadBackoff);
        }
    }
}
