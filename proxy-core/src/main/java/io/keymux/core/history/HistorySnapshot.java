package io.keymux.core.history;

import java.util.Map;

/**
 * The body of {@code GET /admin/history}: {@value TrafficHistory#STEPS} steps of
 * {@code stepSeconds} each, oldest first, the first starting at {@code startMillis}. Every array has
 * one value per step; a step without traffic holds 0. The arrays belong to the snapshot: nothing
 * writes them after it was taken.
 *
 * @param keys per key id, in the order asked for
 * @param tasks per task name, in the order asked for
 */
public record HistorySnapshot(int stepSeconds, long startMillis, Map<String, KeySeries> keys,
        Map<String, TaskSeries> tasks) {

    public HistorySnapshot {
        keys = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(keys));
        tasks = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(tasks));
    }

    /**
     * One key's attempts per step.
     *
     * @param requests attempts settled on the key (a failed-over request counts on each key it tried)
     * @param rateLimited attempts the upstream answered with 429
     * @param failures attempts that ended in a 5xx, a connection failure, a timeout or a 401/403
     * @param tokens prompt plus completion tokens from the answers' usage
     * @param costUsd cost of those tokens at the key's prices
     */
    public record KeySeries(long[] requests, long[] rateLimited, long[] failures, long[] tokens, double[] costUsd) {}

    /**
     * One task's client requests per step.
     *
     * @param requests client requests that ended in the step (a failed-over request counts once)
     * @param latencyP50Ms median time from request to last byte, 0 in a step without requests
     * @param latencyP99Ms 99th percentile of the same
     * @param queueDepth the most requests waiting for a key at once during the step
     * @param costUsd cost of the task's attempts
     */
    public record TaskSeries(long[] requests, double[] latencyP50Ms, double[] latencyP99Ms, int[] queueDepth,
            double[] costUsd) {}
}
