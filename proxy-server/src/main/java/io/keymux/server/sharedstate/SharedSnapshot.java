package io.keymux.server.sharedstate;

import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One key's shared state at one moment, for the admin API.
 *
 * @param redisTime Redis' clock when the snapshot was read (the clock every deadline uses)
 * @param cooldownUntil when a cooling key returns; {@code null} when not cooling down
 * @param circuit the circuit's state
 * @param circuitOpenUntil when an open circuit lets its probe go; {@code null} when closed
 * @param consecutiveFailures failures counted towards opening the circuit
 * @param probeInFlight whether a half-open circuit's probe is out
 * @param disabled whether the key is marked {@code disabled}
 * @param spendToday USD spent on Redis' current UTC day
 * @param inFlight requests in flight across all live replicas
 * @param rpmTokensLeft requests the RPM bucket would admit now; {@code null} when unlimited
 * @param tpmTokensLeft tokens left in the TPM bucket (negative after a charge); {@code null} when unlimited
 * @param requestsLastMinute requests granted by every replica in the last 50 to 60 s (10 s slots)
 * @param tokensLastMinute tokens settled by every replica in the same window
 * @param quotaProbeAt when the key is {@code quota_exhausted}: when its next probe may go (possibly
 *     past); {@code null} when it is not
 * @param disabledProbeAt when the key is disabled and probed: when its next probe may go (possibly
 *     past); {@code null} when there is none
 * @param enabledCount how often the key was enabled (admin API) or restored by a probe; a change
 *     tells a replica to drop its own disabled, quota, circuit and cooldown state
 */
public record SharedSnapshot(
        Instant redisTime,
        @Nullable Instant cooldownUntil,
        CircuitState circuit,
        @Nullable Instant circuitOpenUntil,
        long consecutiveFailures,
        boolean probeInFlight,
        boolean disabled,
        double spendToday,
        long inFlight,
        @Nullable Double rpmTokensLeft,
        @Nullable Double tpmTokensLeft,
        long requestsLastMinute,
        long tokensLastMinute,
        @Nullable Instant quotaProbeAt,
        @Nullable Instant disabledProbeAt,
        long enabledCount) {

    public SharedSnapshot {
        Objects.requireNonNull(redisTime, "redisTime");
        Objects.requireNonNull(circuit, "circuit");
    }
}
