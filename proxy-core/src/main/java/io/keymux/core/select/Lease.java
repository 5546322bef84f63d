package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;

/**
 * One attempt's hold on a key: its request-rate token, its token reservation and its concurrency
 * slot. Exactly one {@link #settle(Outcome)} call releases it; later calls are ignored, so a
 * cancellation racing a completion cannot double-count.
 */
public non-sealed interface Lease extends Admission {

    /** The key to inject. */
    ApiKeyConfig key();

    /** Tokens reserved for this attempt. */
    long reservedTokens();

    /** Nanoseconds the request waited in the queue before this lease was granted. */
    long queuedNanos();

    /** Settles the reservation against what happened and releases the concurrency slot. */
    void settle(Outcome outcome);
}
