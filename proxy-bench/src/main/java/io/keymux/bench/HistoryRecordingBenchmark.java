package io.keymux.bench;

import io.keymux.core.history.AttemptKind;
import io.keymux.core.history.HistorySnapshot;
import io.keymux.core.history.TrafficHistory;
import io.keymux.core.time.TimeSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * What {@code /admin/history} costs the request path: one attempt on a key plus one client request
 * of its task (what a request without failover records), on the system clock; {@code contended}
 * runs two threads on the same key and task. {@code snapshot} is one {@code /admin/history} read
 * (off the request path) over the given number of keys and tasks.
 *
 * <p>Run:
 *
 * <pre>
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar HistoryRecording -f 1 -wi 2 -i 3 -w 1s -r 1s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HistoryRecordingBenchmark {
    @Param({"32"})
    public int keys;

    private TrafficHistory history;
    private List<String> keyIds;
    private List<String> tasks;

    @Setup
    public void setUp() {
        history = TrafficHistory.create(TimeSource.system());
        keyIds = new ArrayList<>();
        tasks = new ArrayList<>();
        for (int i = 0; i < keys; i++) {
            keyIds.add("key-" + i);
            history.attempt("key-" + i, "task-" + (i % 8), AttemptKind.ANSWERED, 200, 0.001);
        }
        for (int i = 0; i < 8; i++) {
            tasks.add("task-" + i);
            history.clientRequest("task-" + i, 200, 40_000_000L);
        }
    }

    @Benchmark
    public void record() {
        history.attempt("key-3", "task-3", AttemptKind.ANSWERED, 200, 0.001);
        history.clientRequest("task-3", 200, 42_000_000L);
    }

    @Benchmark
    @Threads(2)
    public void contended() {
        history.attempt("key-3", "task-3", AttemptKind.ANSWERED, 200, 0.001);
        history.clientRequest("task-3", 200, 42_000_000L);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public HistorySnapshot snapshot() {
        return history.snapshot(keyIds, tasks);
    }
}
