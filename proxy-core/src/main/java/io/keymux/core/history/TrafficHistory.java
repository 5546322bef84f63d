package io.keymux.core.history;

import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The last {@value #STEPS} steps of {@value #STEP_SECONDS} s (15 minutes) of traffic per key and per
 * task, for {@code GET /admin/history}. Each key and each task has one row of fixed-size rings,
 * indexed by {@code step mod STEPS}: a slot is cleared when a later step first writes it, so memory
 * depends on the number of keys and tasks, never on uptime. Steps are aligned to the wall clock of
 * the injected {@link TimeSource}.
 *
 * <p>Cost on the request path: one map lookup and a few array increments under the row's lock
 * (rows are per key and per task, so requests on different keys do not contend); a latency goes
 * into a per-step {@linkplain LatencyBuckets log-scale histogram}, and percentiles are computed only
 * when a snapshot is read.
 *
 * <pre>{@code
 * TrafficHistory history = TrafficHistory.create(TimeSource.system());
 * history.attempt("k1", "chat", AttemptKind.ANSWERED, 120, 0.0004);
 * history.clientRequest("chat", 200, 35_000_000);
 * HistorySnapshot last15 = history.snapshot(List.of("k1"), List.of("chat"));
 * }</pre>
 *
 * <p>It also keeps the running totals of client requests and their successes for
 * {@code /admin/metrics} ({@link #clientRequests()}, {@link #clientSuccesses()}).
 */
public final class TrafficHistory {
    /** Seconds per step. */
    public static final int STEP_SECONDS = 10;
    /** Steps kept: 90 × 10 s = 15 minutes. */
    public static final int STEPS = 90;
    /** One step. */
    public static final Duration STEP = Duration.ofSeconds(STEP_SECONDS);

    private static final long STEP_MILLIS = STEP_SECONDS * 1_000L;

    private final TimeSource time;
    private final Map<String, KeyRow> keys = new ConcurrentHashMap<>();
    private final Map<String, TaskRow> tasks = new ConcurrentHashMap<>();
    private final LongAdder clientRequests = new LongAdder();
    private final LongAdder clientSuccesses = new LongAdder();

    private TrafficHistory(TimeSource time) {
        this.time = time;
    }

    /** An empty history on {@code time}'s wall clock. */
    public static TrafficHistory create(TimeSource time) {
        return new TrafficHistory(Objects.requireNonNull(time, "time"));
    }

    /**
     * One settled attempt on key {@code keyId} for task {@code task}: counted on the key, and its cost
     * also on the task.
     */
    public void attempt(String keyId, String task, AttemptKind kind, long tokens, double costUsd) {
        Objects.requireNonNull(kind, "kind");
        long step = currentStep();
        keys.computeIfAbsent(keyId, id -> new KeyRow()).add(step, kind, tokens, costUsd);
        if (costUsd > 0) {
            tasks.computeIfAbsent(task, t -> new TaskRow()).cost(step, costUsd);
        }
    }

    /**
     * One client request of {@code task} is over, with its final status, {@code latencyNanos} after
     * it arrived. A failed-over request is one client request.
     */
    public void clientRequest(String task, int status, long latencyNanos) {
        clientRequests.increment();
        if (status >= 200 && status < 400) {
            clientSuccesses.increment();
        }
        tasks.computeIfAbsent(task, t -> new TaskRow()).request(currentStep(), LatencyBuckets.of(latencyNanos));
    }

    /** A request of {@code task} started waiting for a key. */
    public void queueEntered(String task) {
        tasks.computeIfAbsent(task, t -> new TaskRow()).queue(currentStep(), +1);
    }

    /** A request of {@code task} stopped waiting (it got a key, was refused, or went away). */
    public void queueLeft(String task) {
        tasks.computeIfAbsent(task, t -> new TaskRow()).queue(currentStep(), -1);
    }

    /** Client requests counted by {@link #clientRequest} since start. */
    public long clientRequests() {
        return clientRequests.sum();
    }

    /** Of those, the ones that ended with a status from 200 to 399. */
    public long clientSuccesses() {
        return clientSuccesses.sum();
    }

    /**
     * The last 15 minutes, ending with the step in progress, for the given keys and tasks in that
     * order (one with no traffic gets zeros).
     */
    public HistorySnapshot snapshot(List<String> keyIds, List<String> taskNames) {
        long last = currentStep();
        long first = last - STEPS + 1;
        Map<String, HistorySnapshot.KeySeries> keySeries = new LinkedHashMap<>();
        for (String id : keyIds) {
            KeyRow row = keys.get(id);
            keySeries.put(id, row == null ? KeyRow.empty() : row.read(first));
        }
        Map<String, HistorySnapshot.TaskSeries> taskSeries = new LinkedHashMap<>();
        for (String name : taskNames) {
            TaskRow row = tasks.get(name);
            taskSeries.put(name, row == null ? TaskRow.empty() : row.read(first));
        }
        return new HistorySnapshot(STEP_SECONDS, first * STEP_MILLIS, keySeries, taskSeries);
    }

    private long currentStep() {
        return Math.floorDiv(time.currentTimeMillis(), STEP_MILLIS);
    }

    /** A row of rings, one slot per step; a subclass clears its own arrays when a slot is reused. */
    private abstract static class Row {
        /** The step each slot holds now. */
        private final long[] stepOf = new long[STEPS];

        Row() {
            Arrays.fill(stepOf, Long.MIN_VALUE);
        }

        /**
         * The slot of {@code step}, cleared first if it held an older step; -1 if it already holds
         * a later one (the wall clock went back by more than 15 minutes), so the write is dropped.
         * Callers hold the row's lock.
         */
        final int slot(long step) {
            int slot = (int) Math.floorMod(step, (long) STEPS);
            long held = stepOf[slot];
            if (held == step) {
                return slot;
            }
            if (held > step) {
                return -1;
            }
            stepOf[slot] = step;
            clear(slot);
            return slot;
        }

        /** Whether {@code slot} holds {@code step}. Callers hold the row's lock. */
        final boolean holds(int slot, long step) {
            return stepOf[slot] == step;
        }

        abstract void clear(int slot);
    }

    private static final class KeyRow extends Row {
        private final long[] requests = new long[STEPS];
        private final long[] rateLimited = new long[STEPS];
        private final long[] failures = new long[STEPS];
        private final long[] tokens = new long[STEPS];
        private final double[] cost = new double[STEPS];

        synchronized void add(long step, AttemptKind kind, long used, double usd) {
            int slot = slot(step);
            if (slot < 0) {
                return;
            }
            requests[slot]++;
            if (kind == AttemptKind.RATE_LIMITED) {
                rateLimited[slot]++;
            } else if (kind == AttemptKind.FAILED) {
                failures[slot]++;
            }
            tokens[slot] += Math.max(0, used);
            cost[slot] += Math.max(0, usd);
        }

        @Override
        void clear(int slot) {
            requests[slot] = 0;
            rateLimited[slot] = 0;
            failures[slot] = 0;
            tokens[slot] = 0;
            cost[slot] = 0;
        }

        synchronized HistorySnapshot.KeySeries read(long first) {
            HistorySnapshot.KeySeries out = empty();
            for (int i = 0; i < STEPS; i++) {
                long step = first + i;
                int slot = (int) Math.floorMod(step, (long) STEPS);
                if (holds(slot, step)) {
                    out.requests()[i] = requests[slot];
                    out.rateLimited()[i] = rateLimited[slot];
                    out.failures()[i] = failures[slot];
                    out.tokens()[i] = tokens[slot];
                    out.costUsd()[i] = cost[slot];
                }
            }
            return out;
        }

        static HistorySnapshot.KeySeries empty() {
            return new HistorySnapshot.KeySeries(new long[STEPS], new long[STEPS], new long[STEPS], new long[STEPS],
                    new double[STEPS]);
        }
    }

    private static final class TaskRow extends Row {
        private final long[] requests = new long[STEPS];
        private final int[][] latency = new int[STEPS][LatencyBuckets.COUNT];
        private final double[] cost = new double[STEPS];
        /** Requests waiting now. */
        private int depth;
        /** Per step: the depth when the step began (its first write), the most during it, and at its end. */
        private final int[] depthAtStart = new int[STEPS];
        private final int[] depthMax = new int[STEPS];
        private final int[] depthAtEnd = new int[STEPS];

        synchronized void request(long step, int bucket) {
            int slot = slot(step);
            if (slot < 0) {
                return;
            }
            requests[slot]++;
            latency[slot][bucket]++;
        }

        synchronized void cost(long step, double usd) {
            int slot = slot(step);
            if (slot >= 0) {
                cost[slot] += usd;
            }
        }

        synchronized void queue(long step, int change) {
            // The slot first: a new step begins with the depth from before this change.
            int slot = slot(step);
            depth = Math.max(0, depth + change);
            if (slot < 0) {
                return;
            }
            depthMax[slot] = Math.max(depthMax[slot], depth);
            depthAtEnd[slot] = depth;
        }

        @Override
        void clear(int slot) {
            requests[slot] = 0;
            Arrays.fill(latency[slot], 0);
            cost[slot] = 0;
            depthAtStart[slot] = depth;
            depthMax[slot] = depth;
            depthAtEnd[slot] = depth;
        }

        synchronized HistorySnapshot.TaskSeries read(long first) {
            HistorySnapshot.TaskSeries out = empty();
            int firstWritten = -1;
            int carried = 0;
            for (int i = 0; i < STEPS; i++) {
                long step = first + i;
                int slot = (int) Math.floorMod(step, (long) STEPS);
                if (!holds(slot, step)) {
                    // Nothing happened in this step: the queue stayed as the last written step left it.
                    out.queueDepth()[i] = carried;
                    continue;
                }
                if (firstWritten < 0) {
                    firstWritten = i;
                }
                out.requests()[i] = requests[slot];
                out.latencyP50Ms()[i] = LatencyBuckets.percentileMillis(latency[slot], 0.50);
                out.latencyP99Ms()[i] = LatencyBuckets.percentileMillis(latency[slot], 0.99);
                out.costUsd()[i] = cost[slot];
                out.queueDepth()[i] = depthMax[slot];
                carried = depthAtEnd[slot];
            }
            // Before the first step written in the window the queue was as that step found it; with
            // no step written at all, as it is now.
            int before = firstWritten < 0 ? depth
                    : depthAtStart[(int) Math.floorMod(first + firstWritten, (long) STEPS)];
            for (int i = 0; i < (firstWritten < 0 ? STEPS : firstWritten); i++) {
                out.queueDepth()[i] = before;
            }
            return out;
        }

        static HistorySnapshot.TaskSeries empty() {
            return new HistorySnapshot.TaskSeries(new long[STEPS], new double[STEPS], new double[STEPS],
                    new int[STEPS], new double[STEPS]);
        }
    }
}
