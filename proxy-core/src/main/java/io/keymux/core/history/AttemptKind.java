package io.keymux.core.history;

/** How one attempt on a key ended, as the history counts it. */
public enum AttemptKind {
    /** The upstream answered (2xx, or a 4xx passed through), or the client went away. */
    ANSWERED,
    /** The upstream answered 429 (a rate limit, or {@code insufficient_quota}). */
    RATE_LIMITED,
    /** A 5xx (an overload included), a 402, a connection failure, a timeout, or a 401/403 that disabled the key. */
    FAILED
}
