package io.keymux.bench;

import io.keymux.config.model.AffinityConfig;
import io.keymux.core.time.TimeSource;
import io.keymux.server.affinity.AffinityStore;
import io.keymux.server.affinity.PathIds;
import io.keymux.server.affinity.RedisAffinityStore;
import io.keymux.server.sharedstate.RedisHealth;
import io.keymux.server.wire.RequestInspector;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The cost of provider-object affinity per request (SPEC.md section 3.9): the path scan of a request
 * that names no id, the local map's lookup (a hit among 100,000 ids), the Redis lookup (one GETEX
 * round trip to 127.0.0.1:6379, an id the local map does not hold), and the inspector's pass over a
 * chat body with and without the prompt digest.
 *
 * <p>Run (the Redis benchmark needs a server on 127.0.0.1:6379):
 *
 * <pre>
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar AffinityBenchmark -f 1 -wi 2 -i 3 -w 1s -r 1s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AffinityBenchmark {
    private static final byte[] CHAT = ("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":"
            + "\"You are a careful assistant for a dental clinic.\"},{\"role\":\"user\",\"content\":"
            + "\"Which appointments are free tomorrow?\"}],\"max_tokens\":256}").getBytes(StandardCharsets.UTF_8);

    private AffinityStore local;
    private AffinityStore redis;
    private RedisClient client;
    private RedisHealth health;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        local = AffinityStore.local(new AffinityConfig(Duration.ofDays(30), 1_000_000), TimeSource.system());
        for (int i = 0; i < 100_000; i++) {
            local.remember("file-" + i, "key_" + (i % 4));
        }
        client = RedisClient.create();
        health = RedisHealth.connect(client, RedisURI.create("redis://127.0.0.1:6379"));
        health.whenUp().get(5, TimeUnit.SECONDS);
        redis = new RedisAffinityStore(health, "bench-" + UUID.randomUUID(), AffinityConfig.defaults(),
                TimeSource.system());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        health.close();
        client.shutdown();
    }

    @Benchmark
    public List<String> pathScanNoId() {
        return PathIds.of("/v1/chat/completions");
    }

    @Benchmark
    public List<String> pathScanWithId() {
        return PathIds.of("/v1/files/file-abc123/content");
    }

    @Benchmark
    public Object localLookup() {
        next = (next + 7919) % 100_000;
        return local.keyOf("file-" + next).join();
    }

    @Benchmark
    public Object redisLookup() {
        return redis.keyOf("file-absent").join();
    }

    @Benchmark
    public Object inspectChat() {
        return RequestInspector.inspect("application/json", CHAT, false);
    }

    @Benchmark
    public Object inspectChatWithDigest() {
        return RequestInspector.inspect("application/json", CHAT, true);
    }
}
