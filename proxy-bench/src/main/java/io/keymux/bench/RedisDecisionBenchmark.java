package io.keymux.bench;

import ch.qos.logback.classic.LoggerContext;
import io.keymux.config.model.HealthConfig;
import io.keymux.core.select.KeyEffect;
import io.keymux.core.select.KeyRule;
import io.keymux.core.select.Outcome;
import io.keymux.server.sharedstate.Grant;
import io.keymux.server.sharedstate.SharedLimits;
import io.keymux.server.sharedstate.RedisHealth;
import io.keymux.server.sharedstate.SharedKeyState;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
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
import org.slf4j.LoggerFactory;

/**
 * The cost of a shared (Redis) admission decision: one {@code tryTake} (one {@code EVALSHA} of
 * {@code try_take.lua}) and the {@code settle} that follows it (a second {@code EVALSHA}), each
 * waited for, against the Redis at {@code -p redisUri=...} (default {@code 127.0.0.1:6379}).
 * Limits are large enough that every decision is granted and takes the full path (all checks,
 * both buckets, the concurrency count). Keys live under a random prefix and are deleted after
 * the run.
 *
 * <p>Run:
 * <pre>{@code
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar RedisDecision -f 1 -wi 2 -i 3 -w 1s -r 1s
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class RedisDecisionBenchmark {
    private static final SharedLimits LIMITS =
            new SharedLimits(1_000_000_000L, null, 1_000_000_000_000L, null, 1_000_000, 1_000_000.0);

    @Param("redis://127.0.0.1:6379")
    public String redisUri;

    private final String prefix = "keymux-bench-" + UUID.randomUUID().toString().substring(0, 8);
    private RedisClient client;
    private RedisHealth health;
    private SharedKeyState state;

    @Setup(Level.Trial)
    public void connect() {
        // Without a Logback configuration Lettuce logs every command at DEBUG, which would be
        // measured instead of Redis.
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            context.getLogger("io.lettuce").setLevel(ch.qos.logback.classic.Level.INFO);
            context.getLogger("io.netty").setLevel(ch.qos.logback.classic.Level.INFO);
        }
        client = RedisClient.create();
        health = RedisHealth.connect(client, RedisURI.create(redisUri), Duration.ofSeconds(1),
                RedisHealth.DEFAULT_MIN_BACKOFF, RedisHealth.DEFAULT_MAX_BACKOFF);
        state = SharedKeyState.create(health, prefix, "bench", SharedKeyState.DEFAULT_LEASE_TTL);
        try {
            health.whenUp().get(10, TimeUnit.SECONDS);
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new IllegalStateException("Redis at " + redisUri + " did not answer within 10 s", e);
        }
    }

    @TearDown(Level.Trial)
    public void cleanUp() {
        try (StatefulRedisConnection<String, String> connection = client.connect(RedisURI.create(redisUri))) {
            ScanCursor cursor = ScanCursor.INITIAL;
            do {
                KeyScanCursor<String> page = connection.sync().scan(cursor, ScanArgs.Builder.matches(prefix + ":*").limit(1000));
                if (!page.getKeys().isEmpty()) {
                    connection.sync().del(page.getKeys().toArray(String[]::new));
                }
                cursor = page;
            } while (!cursor.isFinished());
        }
        health.close();
        client.shutdown();
    }

    private static final HealthConfig RULES = HealthConfig.defaults();
    private static final KeyEffect ANSWERED_EFFECT = KeyRule.of(new Outcome.Answered(200, 50, 30, true, 0), 100, RULES);

    /** One decision and its settlement: two round trips. */
    @Benchmark
    public Boolean tryTakeThenSettle() {
        return state.tryTake("k1", LIMITS, 100)
                .thenCompose(grant -> state.settle("k1", LIMITS, ANSWERED_EFFECT, false, RULES, 0, 80, grant.isGranted()))
                .join();
    }

    /** The decision alone: one round trip. */
    @Benchmark
    public Grant tryTake() {
        return state.tryTake("k2", LIMITS, 100).join();
    }
}
