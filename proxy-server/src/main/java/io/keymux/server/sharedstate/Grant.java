package io.keymux.server.sharedstate;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The answer of {@link SharedKeyState#tryTake}: the request may use the key, may not (and why,
 * and for how long), Redis did not answer in time (ask again within the request's
 * {@code max_wait}; never decide locally), or Redis is down and the caller decides with its share
 * of the local limits.
 *
 * @param status granted, denied, slow or unavailable
 * @param reason why it was denied; {@code null} unless {@link Status#DENIED}
 * @param retryAfterMillis when the denial is expected to lift (0 when unknown or not denied)
 * @param probe {@code true} for the single request let through a half-open circuit: its outcome
 *     must be reported with {@link SharedKeyState#settle}, whose verdict closes or reopens the circuit
 */
public record Grant(Status status, @Nullable Reason reason, long retryAfterMillis, boolean probe) {

    private static final Grant GRANTED = new Grant(Status.GRANTED, null, 0, false);
    private static final Grant PROBE = new Grant(Status.GRANTED, null, 0, true);
    private static final Grant UNAVAILABLE = new Grant(Status.UNAVAILABLE, null, 0, false);
    private static final Grant SLOW = new Grant(Status.SLOW, null, 0, false);

    public Grant {
        Objects.requireNonNull(status, "status");
        if ((status == Status.DENIED) != (reason != null)) {
            throw new IllegalArgumentException("reason: " + reason + " (expected: set exactly when denied)");
        }
        if (retryAfterMillis < 0) {
            throw new IllegalArgumentException("retryAfterMillis: " + retryAfterMillis + " (expected: >= 0)");
        }
    }

    /** The request may go; {@code probe} when it is a half-open circuit's single probe. */
    public static Grant granted(boolean probe) {
        return probe ? PROBE : GRANTED;
    }

    /** The request may not use this key now. */
    public static Grant denied(Reason reason, long retryAfterMillis) {
        return new Grant(Status.DENIED, Objects.requireNonNull(reason, "reason"), retryAfterMillis, false);
    }

    /** Redis is down: decide with local limits. */
    public static Grant unavailable() {
        return UNAVAILABLE;
    }

    /** Redis did not answer in time (or refused the script): ask again, never decide locally. */
    public static Grant slow() {
        return SLOW;
    }

    /** Whether the request may go. */
    public boolean isGranted() {
        return status == Status.GRANTED;
    }

    /** Whether Redis did not answer in time. */
    public boolean isSlow() {
        return status == Status.SLOW;
    }

    /** Whether Redis is down.  */
    public boolean isUnavailable() {
        return status == Status.UNAVAILABLE;
    }

    /** The three kinds of answer. */
    public enum Status {
        GRANTED,
        DENIED,
        SLOW,
        UNAVAILABLE
    }

    /** Why a key was denied; {@link #wireName()} is the name the Lua script and SPEC.md use. */
    public enum Reason {
        RATE_LIMITED("rate_limited"),
        CONCURRENCY("concurrency"),
        COOLING_DOWN("cooling_down"),
        CIRCUIT_OPEN("circuit_open"),
        DISABLED("disabled"),
        BUDGET_EXHAUSTED("budget_exhausted"),
        QUOTA_EXHAUSTED("quota_exhausted");

        private final String wireName;

        Reason(String wireName) {
            this.wireName = wireName;
        }

        /** The snake_case name. */
        public String wireName() {
            return wireName;
        }

        /** The reason named {@code wireName}. */
        public static Reason ofWireName(String wireName) {
            for (Reason reason : values()) {
                if (reason.wireName.equals(wireName)) {
                    return reason;
                }
            }
            throw new IllegalArgumentException("reason: " + wireName + " (expected: one of rate_limited, "
                    + "concurrency, cooling_down, circuit_open, disabled, budget_exhausted)");
        }
    }
}
