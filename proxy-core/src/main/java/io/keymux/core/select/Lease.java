package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.ModelLimits;
import io.keymux.core.ratelimit.ProviderLimits;
import org.jspecify.annotations.Nullable;

/**
 * One attempt's hold on a key: its request-rate token, its token reservation and its concurrency
 * slot. Exactly one {@link #settle(Outcome)} call releases it; later calls are ignored, so a
 * cancellation racing a completion cannot double-count.
 *
 * <p>Settlement arithmetic: the lease reserved {@code r = reservedTokens()} tokens. An
 * {@link Outcome.Answered} with usage {@code u = prompt + completion} corrects the token bucket by
 * {@code r - u}: positive is a refund (capped at the bucket's capacity), negative a charge (the bucket
 * may go into debt, delaying later requests). Without usage the reservation stands. Every other
 * outcome refunds {@code r}. The request token stays spent (the provider counted the request, or
 * may have), except for a lease that never reached the provider ({@link Outcome.Unused},
 * {@link Outcome.Deferred}): that gives its request token back too. {@link KeyRule} is where these
 * rules live.
 */
public non-sealed interface Lease extends Admission {

    /** The key to inject. */
    ApiKeyConfig key();

    /**
     * The key's {@code models} bucket this lease also reserved from (picked by the request's model),
     * or {@code null} when only the key-wide limits apply.
     */
    default @Nullable ModelLimits modelLimits() {
        return null;
    }

    /** Tokens reserved for this attempt. */
    long reservedTokens();

    /** Nanoseconds the request waited in the queue before this lease was granted. */
    long queuedNanos();

    /** Settles the reservation against what happened and releases the concurrency slot. */
    void settle(Outcome outcome);

    /**
     * Tells the broker what the provider's response headers say about the key's limits; lowers the
     * key's local buckets when the provider reports less left (never raises them).
     */
    default void observe(ProviderLimits limits) {}
}
