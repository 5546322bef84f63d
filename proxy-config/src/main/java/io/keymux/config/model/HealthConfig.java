package io.keymux.config.model;

import java.time.Duration;

/**
 * Outlier detection for keys: when a key's circuit opens and how long a key cools down.
 *
 * @param failureThreshold consecutive 5xx, connect or timeout failures that open a key's circuit
 * @param circuitCooldown how long an open circuit stays open before one probe request is let through
 * @param rateLimitCooldown cooldown after a 429 that names no reset time
 */
public record HealthConfig(int failureThreshold, Duration circuitCooldown, Duration rateLimitCooldown) {

    /** The defaults of SPEC.md section 2. */
    public static HealthConfig defaults() {
        return new HealthConfig(3, Duration.ofSeconds(30), Duration.ofSeconds(60));
    }
}
