package io.keymux.core.select;

import io.keymux.config.model.HealthConfig;
import java.time.Duration;

/**
 * The one rule that turns an attempt's {@link Outcome} into a {@link KeyEffect}. Pure: the local
 * {@code KeySlot} and the shared backend (the Redis script {@code settle.lua}) both apply its
 * result, so adding an outcome kind is a case here (plus, if it needs new state, a field of
 * {@link KeyEffect} that both appliers learn).
 *
 * <pre>{@code
 * KeyEffect effect = KeyRule.of(new Outcome.RateLimited(Duration.ofSeconds(30)), lease.reservedTokens(), health);
 * }</pre>
 */
public final class KeyRule {
    private KeyRule() {}

    /** The effect of {@code outcome} on a key whose lease reserved {@code reservedTokens}. */
    public static KeyEffect of(Outcome outcome, long reservedTokens, HealthConfig health) {
        // A switch expression over the kind: an outcome added without its rule does not compile.
        return switch (outcome.kind()) {
            case ANSWERED -> {
                Outcome.Answered a = (Outcome.Answered) outcome;
                // Without usage the reservation stands; with it, reservation minus real use goes back.
                yield KeyEffect.answered(a.usageKnown() ? reservedTokens - (a.promptTokens() + a.completionTokens()) : 0);
            }
            case RATE_LIMITED -> {
                Outcome.RateLimited r = (Outcome.RateLimited) outcome;
                Duration wait = r.retryAfter() != null ? r.retryAfter() : health.rateLimitCooldown();
                // "Slow down" comes from a working account; naming the model, it is that bucket's limit.
                yield KeyEffect.rateLimited(reservedTokens, wait.toNanos(), r.perModel());
            }
            case QUOTA_EXHAUSTED -> KeyEffect.quotaExhausted(reservedTokens);
            case OVERLOADED -> {
                // The provider's trouble, not the key's: its upstream backs off, the key's health is untouched.
                Duration retryAfter = ((Outcome.Overloaded) outcome).retryAfter();
                Duration backoff = health.overloadBackoff();
                yield KeyEffect.overloaded(reservedTokens,
                        (retryAfter != null && retryAfter.compareTo(backoff) > 0 ? retryAfter : backoff).toNanos());
            }
            case SERVER_ERROR, CONNECT_FAILURE, TIMEOUT -> KeyEffect.failed(reservedTokens);
            case UNAUTHORIZED -> KeyEffect.disabled(reservedTokens);
            case DEFERRED -> KeyEffect.deferred(reservedTokens, ((Outcome.Deferred) outcome).retryAfterNanos());
            case UNUSED -> KeyEffect.unused(reservedTokens);
            case CANCELLED -> KeyEffect.cancelled(reservedTokens);
        };
    }
}
