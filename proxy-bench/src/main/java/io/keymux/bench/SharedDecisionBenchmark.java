package io.keymux.bench;

import ch.qos.logback.classic.LoggerContext;
import io.keymux.config.model.AdminConfig;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.keymux.server.sharedstate.SharedLimitBroker;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
import org.slf4j.LoggerFactory;

/**
 * What {@code limits.backend: redis} adds to a key decision: {@code acquire} then {@code settle}
 * (answered, with usage and cost) through the local broker alone ({@code backend=local}) and
 * through {@link SharedLimitBroker} on the Redis at {@code -p redisUri=...} ({@code
 * backend=redis}): the local decision, one {@code try_take} round trip waited for, and the
 * settle's one {@code settle} script sent without waiting (which the next decision's round trip
 * queues behind on the one connection). Four keys with limits that never refuse.
 *
 * <p>{@code decide} is the machine's normal load (one caller at a time); {@code decideInABurst}
 * is 32 callers at once, as in a burst, measured as a latency distribution (p50, p99) per
 * decision.
 *
 * <p>Run:
 * <pre>{@code
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar SharedDecision -f 1 -wi 2 -i 3 -w 1s -r 1s
 * java -jar proxy-bench/target/benchmarks.jar 'SharedDecision.decideInABurst' -f 1 -wi 2 -i 3 -w 1s -r 2s
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SharedDecisionBenchmark {
    private static final Outcome ANSWERED = new Outcome.Answered(200, 120, 80, true, 250_000_000L);

    @Param({"local", "redis"})
    public String backend;

    @Param("redis://127.0.0.1:6379")
    public String redisUri;

    private final String prefix = "keymux-bench-" + UUID.randomUUID().toString().substring(0, 8);
    private KeyBroker broker;
    private KeyRequest request;

    @Setup(Level.Trial)
    public void setUp() {
        // Without a Logback configuration Lettuce logs every command at DEBUG.
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            context.getLogger("io.lettuce").setLevel(ch.qos.logback.classic.Level.INFO);
            context.getLogger("io.netty").setLevel(ch.qos.logback.classic.Level.INFO);
        }
        List<ApiKeyConfig> pool = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            pool.add(new ApiKeyConfig("key-" + i, Secret.of("sk-bench-" + i), "openai", List.of("chat"),
                    1_000_000_000L, 50_000_000_000L, null, null, 1_000_000, 0, 1, null, 0.000001, 0.000002, null));
        }
        LimitsConfig.Backend kind = backend.equals("redis") ? LimitsConfig.Backend.REDIS : LimitsConfig.Backend.LOCAL;
        KeymuxConfig config = new KeymuxConfig(ServerConfig.defaults(), HealthConfig.defaults(), new AdminConfig(null),
                new LimitsConfig(kind, new LimitsConfig.RedisConfig(redisUri, 1.0)), Map.of(), "openai", null,
                List.of(TaskConfig.withDefaults("chat", HealthConfig.defaults())), pool, List.of());
        if (kind == LimitsConfig.Backend.REDIS) {
            SharedLimitBroker shared = new SharedLimitBroker(config, TimeSource.system(),
                    SharedLimitBroker.Settings.defaults().with(prefix, "bench"));
            try {
                shared.whenRedisUp().get(10, TimeUnit.SECONDS);
            } catch (InterruptedException | ExecutionException | TimeoutException e) {
                throw new IllegalStateException("Redis at " + redisUri + " did not answer within 10 s", e);
            }
            broker = shared;
        } else {
            broker = KeyBroker.create(config, TimeSource.system());
        }
        request = new KeyRequest("chat", "bench-client", 600, Set.of());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        broker.close();
        if (backend.equals("redis")) {
            RedisClient client = RedisClient.create();
            try (StatefulRedisConnection<String, String> connection = client.connect(RedisURI.create(redisUri))) {
                ScanCursor cursor = ScanCursor.INITIAL;
                do {
                    KeyScanCursor<String> page =
                            connection.sync().scan(cursor, ScanArgs.Builder.matches(prefix + ":*").limit(1000));
                    if (!page.getKeys().isEmpty()) {
                        connection.sync().del(page.getKeys().toArray(String[]::new));
                    }
                    cursor = page;
                } while (!cursor.isFinished());
            }
            client.shutdown();
        }
    }

    /** One decision and its settlement, one caller at a time. */
    @Benchmark
    @Threads(1)
    public Lease decide() {
        Lease lease = (Lease) broker.acquire(request).join();
        lease.settle(ANSWERED);
        return lease;
    }

    /**
     * 32 callers at once, each decision's time sampled: what one shared decision costs in a burst
     * (their Redis round trips queue on the one connection).
     */
    @Benchmark
    @Threads(32)
    @BenchmarkMode(Mode.SampleTime)
    public Lease decideInABurst() {
        Lease lease = (Lease) broker.acquire(request).join();
        lease.settle(ANSWERED);
        return lease;
    }

    /** The same with four callers at once (decisions overlap their Redis round trips). */
    @Benchmark
    @Threads(4)
    public Lease decideConcurrently() {
        Lease lease = (Lease) broker.acquire(request).join();
        lease.settle(ANSWERED);
        return lease;
    }
}
