package io.keymux.core.ratelimit;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.core.time.TimeSource;

/**
 * The request-per-minute and token-per-minute state of one key. The local implementation keeps
 * Bucket4j buckets in memory; a shared one (Bucket4j over Redis, so several replicas share a key's
 * limits) can implement the same interface.
 *
 * <p>Not thread-safe by itself: the broker serialises every call for one key under that key's lock,
 * so checking both buckets and taking from both is one atomic step.
 *
 * <pre>{@code
 * KeyLimits limits = KeyLimits.local(key, time);
 * if (limits.tryReserve(1200) == 0) { ... leased ... }
 * }</pre>
 */
public interface KeyLimits {

    /** Returned by {@link #tryReserve} when the request token and the tokens were taken. */
    long RESERVED = 0;

    /**
     * Takes one request token and {@code tokens} tokens, or nothing.
     *
     * @return {@link #RESERVED}, or the nanoseconds until both buckets could have that much
     */
    long tryReserve(long tokens);

    /** Nanoseconds until {@link #tryReserve} could succeed with {@code tokens}; 0 if now. */
    long nanosUntilAvailable(long tokens);

    /**
     * The most tokens one request may reserve: the token bucket's capacity, so a request larger
     * than the bucket is not refused forever ({@link Long#MAX_VALUE} when unlimited).
     */
    long maxReservableTokens();

    /** Gives back the request token (an attempt that never reached the provider). */
    void refundRequest();

    /**
     * Corrects the token bucket by {@code delta}: positive gives tokens back (never above the
     * capacity), negative charges tokens used beyond the reservation (the bucket may go below zero,
     * which delays later requests until the debt is refilled).
     */
    void adjustTokens(long delta);

    /**
     * Lowers the buckets to what the provider reports as remaining, when that is less than the local
     * view. Never raises them: the provider's counters lag and may belong to other users of the key.
     */
    void observe(ProviderLimits provider);

    /** Request tokens available now ({@link Long#MAX_VALUE} when unlimited). */
    long availableRequests();

    /** Tokens available now, possibly negative after a charge ({@link Long#MAX_VALUE} when unlimited). */
    long availableTokens();

    /** Fraction 0..1 of the request bucket in use (0 when unlimited). */
    double requestUtilisation();

    /** Fraction 0..1 of the token bucket in use (0 when unlimited). */
    double tokenUtilisation();

    /**
     * Adopts a reloaded key's limits, keeping the current fill proportionally (Bucket4j's
     * {@code TokensInheritanceStrategy.PROPORTIONALLY}).
     */
    void reconfigure(ApiKeyConfig next);

    /** In-memory limits for a key, refilled by the given clock. */
    static KeyLimits local(ApiKeyConfig key, TimeSource time) {
        return new LocalKeyLimits(key, time);
    }
}
