package io.keymux.core.select;

import java.time.Duration;
import java.util.Objects;

/**
 * No key for this request.
 *
 * @param retryAfter when capacity is expected back (never zero for {@link Reason#RATE_LIMITED})
 * @param message for the client: what happened and what to do; never a secret
 */
public record Rejection(Reason reason, Duration retryAfter, String message) implements Admission {

    public Rejection {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(retryAfter, "retryAfter");
        Objects.requireNonNull(message, "message");
    }

    /** Why no key was given. */
    public enum Reason {
        /** Keys exist but none had capacity within {@code max_wait}: 429 {@code all_keys_exhausted}. */
        RATE_LIMITED,
        /** Every key of the task is disabled (upstream 401/403): 502 {@code upstream_unavailable}. */
        ALL_DISABLED,
        /** Every usable key was already tried by this request. */
        NO_UNTRIED_KEY,
        /**
         * Every untried key that is not disabled belongs to an upstream backing off after it said it
         * is overloaded: 503 {@code upstream_overloaded} with {@code retryAfter}.
         */
        UPSTREAM_OVERLOADED
    }
}
