package io.keymux.core.ratelimit;

import java.time.Duration;
import java.util.Objects;

/** Whether a client may send one more request now: {@link Allowed}, or {@link Refused} with its 429. */
public sealed interface ClientDecision {

    /** The shared "go ahead" value. */
    ClientDecision ALLOWED = new Allowed();

    /** The client may go on. */
    record Allowed() implements ClientDecision {}

    /**
     * The client is over one of its own limits.
     *
     * @param code {@code client_rate_limited} or {@code budget_exceeded}
     * @param retryAfter at least one second
     * @param message for the client; names the client, never its key
     */
    record Refused(String code, Duration retryAfter, String message) implements ClientDecision {
        public Refused {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(retryAfter, "retryAfter");
            Objects.requireNonNull(message, "message");
        }
    }
}
