package io.keymux.server.pipeline;

import io.keymux.config.model.RetryPolicy;
import io.keymux.core.health.AnswerClassifier;
import io.keymux.core.health.AnswerMeaning;
import io.keymux.core.select.Outcome;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.timeout.ReadTimeoutException;
import org.jspecify.annotations.Nullable;
import reactor.netty.channel.AbortedException;

/**
 * What an upstream answer or transport failure means for the key and for the request (SPEC.md
 * section 3, step 7), as values: the {@link Outcome} the key's lease is settled with, and whether the
 * request moves on to another key.
 *
 * <pre>{@code
 * FailoverPolicy.Verdict v = FailoverPolicy.judge(task.retryOn(), 429, headers::get, now);
 * // v.outcome() = RateLimited(Retry-After), v.retry() = true, v.reason() = "429"
 * }</pre>
 */
public final class FailoverPolicy {
    /** {@code retry_on} name of a connection refused, reset or closed early. */
    public static final String CONNECT_ERROR = "connect_error";
    /** {@code retry_on} name of a connect, first-byte or idle timeout. */
    public static final String TIMEOUT = "timeout";

    private FailoverPolicy() {}

    /**
     * The meaning of one upstream status.
     *
     * @param outcome what the lease is settled with; {@code null} for an answer, settled as
     *     {@link Outcome.Answered} with its usage once the body has been read
     * @param retry whether the request goes to another key (nothing reached the client yet)
     * @param reason the {@code retry_on} name for {@code keymux_failovers_total}: the status number
     */
    public record Verdict(@Nullable Outcome outcome, boolean retry, String reason) {
        public Verdict {
            Objects.requireNonNull(reason, "reason");
        }
    }

    private static final byte[] NO_BODY = new byte[0];

    /** {@link #judge(RetryPolicy, int, Function, byte[], int, String, long)} without a look at the body. */
    public static Verdict judge(RetryPolicy retryOn, int status, Function<String, @Nullable String> header,
            long nowMillis) {
        return judge(retryOn, status, header, NO_BODY, 0, null, nowMillis);
    }

    /**
     * Judges an upstream answer by what it means ({@link AnswerClassifier}): a 401/403 saying the key
     * is bad disables it (one saying it lacks permission for this request is an answer, passed
     * through) and a quota answer (429 {@code insufficient_quota}, 402) makes it {@code quota_exhausted}, both
     * always failing over; an overload (529, a 503 naming the provider overloaded) backs its upstream
     * off and always fails over (the broker offers only keys of other upstreams); a 429 cools the key
     * (or its model bucket) down for what its headers say ({@code null}: the configured default); other
     * 5xx count towards the key's circuit; these two are retried only when listed in {@code retry_on}.
     * Any other status is an answer passed through unchanged, unless {@code retry_on} lists it.
     *
     * @param header looks up a response header by lowercase name
     * @param body the start of the error body when {@link AnswerClassifier#wantsBody} asked for it
     * @param length valid bytes in {@code body}
     * @param model the request's {@code model}, or {@code null}
     */
    public static Verdict judge(RetryPolicy retryOn, int status, Function<String, @Nullable String> header,
            byte[] body, int length, @Nullable String model, long nowMillis) {
        String reason = Integer.toString(status);
        AnswerMeaning meaning = AnswerClassifier.classify(status, header, body, length, model, nowMillis);
        boolean retry = retryOn.retriesStatus(status);
        return switch (meaning.kind()) {
            case UNAUTHORIZED -> new Verdict(new Outcome.Unauthorized(status), true, reason);
            case QUOTA_EXHAUSTED -> new Verdict(new Outcome.QuotaExhausted(status), true, reason);
            case OVERLOADED -> new Verdict(new Outcome.Overloaded(status, meaning.retryAfter()), true, reason);
            case RATE_LIMITED -> new Verdict(new Outcome.RateLimited(meaning.retryAfter(), meaning.perModel()), retry,
                    reason);
            case SERVER_ERROR -> new Verdict(new Outcome.ServerError(status), retry, reason);
            case ANSWER -> new Verdict(null, retry, reason);
        };
    }

    /** Whether a transport failure is one of the task's timeouts (connect, first byte, idle). */
    public static boolean isTimeout(Throwable error) {
        return error instanceof TimeoutException || error instanceof ReadTimeoutException
                || error instanceof ConnectTimeoutException;
    }

    /**
     * Whether a failure is the upstream connection's fault (refused, reset, closed early, timed out)
     * rather than a bug: only those are settled as the key's failure and may be retried.
     */
    public static boolean isTransportFailure(Throwable error) {
        return isTimeout(error) || error instanceof IOException || error instanceof AbortedException;
    }

    /** The lease outcome of a transport failure. */
    public static Outcome transportOutcome(Throwable error) {
        return isTimeout(error) ? new Outcome.Timeout() : new Outcome.ConnectFailure();
    }

    /** The {@code retry_on} name of a transport failure. */
    public static String transportReason(Throwable error) {
        return isTimeout(error) ? TIMEOUT : CONNECT_ERROR;
    }

    /** Whether the task retries this transport failure. */
    public static boolean retriesTransport(RetryPolicy retryOn, Throwable error) {
        return isTimeout(error) ? retryOn.timeout() : retryOn.connectError();
    }
}
