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
        if (outcome instanceof Outcome.Answered a) {
            // Without usage the reservation stands; with it, reservation minus real use goes back.
            long refund = a.usageKnown() ? reservedTokens - (a.promptTokens() + a.completionTokens()) : 0;
            return new KeyEffect(refund, false, 0, KeyEffect.Verdict.SUCCESS, false, 0, true, false, false, true, 0);
        }
        if (outcome instanceof Outcome.RateLimited r) {
            Duration wait = r.retryAfter() != null ? r.retryAfter() : health.rateLimitCooldown();
            // "Slow down" comes from a working account; naming the model, it is that bucket's limit.
            return new KeyEffect(reservedTokens, false, Math.max(1, wait.toNanos()), KeyEffect.Verdict.INCONCLUSIVE,
                    false, 0, true, r.perModel(), false, true, 0);
        }
        if (outcome instanceof Outcome.QuotaExhausted) {
            return new KeyEffect(reservedTokens, false, 0, KeyEffect.Verdict.INCONCLUSIVE, false, 0, true, false, true,
                    false, 0);
        }
        if (outcome instanceof Outcome.Overloaded o) {
            // The provider's trouble, not the key's: its upstream backs off, the key's health is untouched.
            Duration backoff = health.overloadBackoff();
            if (o.retryAfter() != null && o.retryAfter().compareTo(backoff) > 0) {
                backoff = o.retryAfter();
            }
            return new KeyEffect(reservedTokens, false, 0, KeyEffect.Verdict.NONE, false, 0, true, false, false, false,
                    Math.max(1, backoff.toNanos()));
        }
        if (outcome instanceof Outcome.ServerError || outcome instanceof Outcome.ConnectFailure
                || outcome instanceof Outcome.Timeout) {
            return new KeyEffect(reservedTokens, false, 0, KeyEffect.Verdict.FAILURE, false, 0, true);
        }
        if (outcome instanceof Outcome.Unauthorized) {
            return new KeyEffect(reservedTokens, false, 0, KeyEffect.Verdict.INCONCLUSIVE, true, 0, true);
        }
        if (outcome instanceof Outcome.Deferred d) {
            return new KeyEffect(reservedTokens, true, 0, KeyEffect.Verdict.NONE, false,
                    Math.max(1, d.retryAfterNanos()), false);
        }
        if (outcome instanceof Outcome.Unused) {
            return new KeyEffect(reservedTokens, true, 0, KeyEffect.Verdict.NONE, false, 0, false);
        }
        // Cancelled: the provider may or may not have seen it, so the request token stays spent.
        return new KeyEffect(reservedTokens, false, 0, KeyEffect.Verdict.NONE, false, 0, true);
    }
}
