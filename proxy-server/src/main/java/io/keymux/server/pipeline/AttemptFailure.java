package io.keymux.server.pipeline;

import io.keymux.config.model.TaskConfig;
import io.keymux.core.select.Outcome;
import java.time.Duration;

/**
 * Why an upstream attempt did not deliver an answer, and what the client gets if it was the last.
 *
 * @param error keymux's answer to the client when no other key can answer
 * @param reason the {@code retry_on} name, for {@code keymux_failovers_total}
 */
record AttemptFailure(KeymuxError error, String reason) {

    /** The upstream answered {@code status}, which the task retries ({@code verdict} says what it means). */
    static AttemptFailure refused(TaskConfig task, int status, FailoverPolicy.Verdict verdict) {
        if (status == 401 || status == 403) {
            return new AttemptFailure(KeymuxError.upstreamUnavailable("the upstream refused the key of task '"
                    + task.name() + "' (" + status + ") and no other key could answer; check the keys in the config"),
                    verdict.reason());
        }
        if (verdict.outcome() instanceof Outcome.QuotaExhausted) {
            return new AttemptFailure(KeymuxError.allKeysExhausted("the upstream says the key tried for task '"
                    + task.name() + "' is out of quota (" + status + ") and no other key could answer; top up the"
                    + " provider account", task.health().quotaProbe()), verdict.reason());
        }
        if (verdict.outcome() instanceof Outcome.Overloaded overloaded) {
            Duration retryAfter = task.health().overloadBackoff();
            if (overloaded.retryAfter() != null && overloaded.retryAfter().compareTo(retryAfter) > 0) {
                retryAfter = overloaded.retryAfter();
            }
            return new AttemptFailure(KeymuxError.upstreamOverloaded("the upstream of task '" + task.name()
                    + "' says it is overloaded (" + status + ") and no key of another upstream could answer; retry"
                    + " after the Retry-After delay", retryAfter), verdict.reason());
        }
        if (verdict.outcome() instanceof Outcome.RateLimited limited) {
            Duration retryAfter = limited.retryAfter() != null ? limited.retryAfter()
                    : task.health().rateLimitCooldown();
            return new AttemptFailure(KeymuxError.allKeysExhausted("every key tried for task '" + task.name()
                    + "' is rate limited by the upstream (429); retry after the Retry-After delay", retryAfter),
                    verdict.reason());
        }
        return new AttemptFailure(KeymuxError.upstreamUnavailable(
                "the upstream answered " + status + " on every attempt for task '" + task.name() + "'"),
                verdict.reason());
    }

    /** The upstream could not be reached or did not answer in time ({@code error}, a transport failure). */
    static AttemptFailure unreachable(TaskConfig task, Throwable error) {
        KeymuxError answer = FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream did not answer in time for task '" + task.name()
                        + "' (tasks[].timeouts)")
                : KeymuxError.upstreamUnavailable("could not reach the upstream for task '" + task.name() + "'");
        return new AttemptFailure(answer, FailoverPolicy.transportReason(error));
    }

    /** What an answer that broke after its first byte ends with (an SSE error event, or the log). */
    static KeymuxError brokenMidAnswer(TaskConfig task, Throwable error) {
        return FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream stopped sending for longer than tasks[].timeouts.idle"
                        + " on task '" + task.name() + "'")
                : KeymuxError.upstreamUnavailable("the upstream connection broke mid-answer on task '"
                        + task.name() + "'");
    }
}
