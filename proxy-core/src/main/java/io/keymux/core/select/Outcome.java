package io.keymux.core.select;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * What happened to one attempt on a leased key; the broker learns health and usage from it.
 * {@link KeyRule#of} is the one place that says what each kind does to the key's state.
 */
public sealed interface Outcome {

    /**
     * Which outcome this is. Java 17 has no switch over sealed types, so the rules that must say what
     * every outcome does ({@link KeyRule#of}, the history's count) switch over this enum instead: a
     * switch expression over it that forgets a kind does not compile.
     */
    Kind kind();

    /** One constant per outcome record, in the same order. */
    enum Kind {
        ANSWERED, RATE_LIMITED, QUOTA_EXHAUSTED, OVERLOADED, SERVER_ERROR, CONNECT_FAILURE, TIMEOUT, UNAUTHORIZED,
        CANCELLED, UNUSED, DEFERRED
    }

    /**
     * The upstream answered with a status that is not retried (2xx, or a 4xx passed through).
     *
     * @param promptTokens every input token, cached ones included
     * @param usageKnown whether the answer carried {@code usage}; if not, the reservation stands
     * @param cachedPromptTokens the part of {@code promptTokens} the provider served from its prompt
     *     cache, priced at the key's cached input price
     */
    record Answered(int status, long promptTokens, long completionTokens, boolean usageKnown, long latencyNanos,
            long cachedPromptTokens) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.ANSWERED;
        }

        /** An answer without cached prompt tokens. */
        public Answered(int status, long promptTokens, long completionTokens, boolean usageKnown, long latencyNanos) {
            this(status, promptTokens, completionTokens, usageKnown, latencyNanos, 0);
        }
    }

    /**
     * Upstream 429 "slow down"; {@code retryAfter} from its headers, or {@code null} for the configured
     * default.
     *
     * @param perModel the provider named the request's model: with a {@code models} bucket for it,
     *     only that bucket cools down
     */
    record RateLimited(@Nullable Duration retryAfter, boolean perModel) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.RATE_LIMITED;
        }

        /** A key-wide 429. */
        public RateLimited(@Nullable Duration retryAfter) {
            this(retryAfter, false);
        }
    }

    /**
     * The key's account is out of credit (429 {@code insufficient_quota}, 402): the key is
     * {@code quota_exhausted}, skipped, and gets one real request every {@code health.quota_probe}.
     */
    record QuotaExhausted(int status) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.QUOTA_EXHAUSTED;
        }
    }

    /**
     * The provider said it is overloaded (529, a 503 naming it overloaded): not the key's fault. Its
     * whole upstream backs off for {@code health.overload_backoff} (or {@code retryAfter} when
     * longer); the key's health is untouched.
     */
    record Overloaded(int status, @Nullable Duration retryAfter) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.OVERLOADED;
        }
    }

    /** Upstream 5xx. */
    record ServerError(int status) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.SERVER_ERROR;
        }
    }

    /** Connection refused, reset or closed before the answer completed. */
    record ConnectFailure() implements Outcome {
        @Override
        public Kind kind() {
            return Kind.CONNECT_FAILURE;
        }
    }

    /** Connect, first-byte or idle timeout. */
    record Timeout() implements Outcome {
        @Override
        public Kind kind() {
            return Kind.TIMEOUT;
        }
    }

    /**
     * Upstream 401/403: the key is disabled until the config changes, or until a probe every
     * {@code health.disabled_probe} (when set) is answered.
     */
    record Unauthorized(int status) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.UNAUTHORIZED;
        }
    }

    /** The client went away; the attempt's reservation is refunded and health is untouched. */
    record Cancelled() implements Outcome {
        @Override
        public Kind kind() {
            return Kind.CANCELLED;
        }
    }

    /**
     * The lease was granted but never sent (the caller had gone, or another limit said no first):
     * the request token and the reservation go back, health and counters are untouched.
     */
    record Unused() implements Outcome {
        @Override
        public Kind kind() {
            return Kind.UNUSED;
        }
    }

    /**
     * The lease was never used: a limit shared with other replicas (on Redis) said no. Not an
     * attempt: the request token and the reservation go back, health and counters are untouched,
     * and the key is skipped locally for {@code retryAfterNanos} (it still shows as {@code active}:
     * the shared state, not this replica, knows why) so the broker picks another key or waits.
     *
     * @param retryAfterNanos when the shared limit expects room again; at least 1 ns is used
     */
    record Deferred(long retryAfterNanos) implements Outcome {
        @Override
        public Kind kind() {
            return Kind.DEFERRED;
        }
    }
}
