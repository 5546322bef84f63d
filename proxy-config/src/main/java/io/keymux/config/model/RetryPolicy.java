package io.keymux.config.model;

import java.util.Set;

/**
 * A task's {@code retry_on}: which outcomes make keymux try another key.
 *
 * @param statuses upstream HTTP statuses that are retried
 * @param connectError whether failing to connect (refused, reset before the answer) is retried
 * @param timeout whether a connect, first-byte or idle timeout is retried
 */
public record RetryPolicy(Set<Integer> statuses, boolean connectError, boolean timeout) {

    public RetryPolicy {
        statuses = Set.copyOf(statuses);
    }

    /** {@code [429, 500, 502, 503, 504, connect_error, timeout]}. */
    public static RetryPolicy defaults() {
        return new RetryPolicy(Set.of(429, 500, 502, 503, 504), true, true);
    }

    /** Whether an upstream answer with this status is retried. */
    public boolean retriesStatus(int status) {
        return statuses.contains(status);
    }
}
