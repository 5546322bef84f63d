package io.keymux.bench;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * One key decision: {@code acquire} (strategy choice plus the atomic rpm/tpm/concurrency
 * reservation) followed by {@code settle} (token correction, health, counters), over pools of 4, 32
 * and 256 keys with limits generous enough that nothing ever queues. {@code contended} runs two
 * threads against the same broker and pool.
 *
 * <p>Run:
 *
 * <pre>
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar KeySelection -f 1 -wi 3 -i 5 -w 1s -r 1s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class KeySelectionBenchmark {
    private static final Outcome ANSWERED = new Outcome.Answered(200, 120, 80, true, 250_000_000L);

    @Param({"4", "32", "256"})
    public int keys;

    @Param({"round_robin", "least_loaded"})
    public String strategy;

    private KeyBroker broker;
    private KeyRequest request;

    @Setup(Level.Trial)
    public void setUp() {
        List<ApiKeyConfig> pool = new ArrayList<>();
        for (int i = 0; i < keys; i++) {
            pool.add(ApiKeyConfig.builder("key-" + i, Secret.of("sk-bench-" + i)).taskTypes("chat")
                    .maxRpm(1_000_000_000L).maxTpm(50_000_000_000L).maxConcurrent(1_000_000)
                    .costPerInputToken(0.000001).costPerOutputToken(0.000002).build());
        }
        TaskConfig task = TaskConfig.builder("chat").strategy(Strategy.fromConfigName(strategy).orElseThrow()).build();
        KeymuxConfig config = KeymuxConfig.builder().task(task).apiKeys(pool).build();
        broker = KeyBroker.create(config, TimeSource.system());
        request = new KeyRequest("chat", "bench-client", 600, Set.of());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        broker.close();
    }

    @Benchmark
    @Threads(1)
    public Lease uncontended() {
        return decide();
    }

    @Benchmark
    @Threads(2)
    public Lease contended() {
        return decide();
    }

    private Lease decide() {
        Lease lease = (Lease) broker.acquire(request).join();
        lease.settle(ANSWERED);
        return lease;
    }
}
