package io.keymux.bench;

import io.keymux.core.cache.AnswerCache;
import io.keymux.core.cache.CacheKey;
import io.keymux.core.cache.CacheLookup;
import io.keymux.core.cache.Flight;
import io.keymux.core.time.TimeSource;
import io.keymux.server.cache.CanonicalJson;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The response cache's own cost per request: canonicalising a chat body (Jackson tree, sorted
 * members), its SHA-256 key, and a lookup that hits; also a miss that leads a flight, is fed one
 * 1 KiB answer and stores it. Bodies of about 200 bytes and 8 KiB.
 *
 * <p>Run:
 *
 * <pre>
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar CacheBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CacheBenchmark {
    private static final Duration TTL = Duration.ofMinutes(10);

    @Param({"200", "8192"})
    public int bodyBytes;

    private byte[] body;
    private byte[] canonical;
    private CacheKey storedKey;
    private AnswerCache cache;
    private final byte[] answer = new byte[1024];
    private long missCounter;

    @Setup
    public void setUp() {
        StringBuilder content = new StringBuilder();
        while (content.length() < Math.max(1, bodyBytes - 120)) {
            content.append("the patient reports pain in the lower left molar ");
        }
        body = ("{\"model\":\"gpt-4o\",\"temperature\":0,\"max_tokens\":256,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"" + content + "\"}]}").getBytes(StandardCharsets.UTF_8);
        canonical = CanonicalJson.of(body);
        cache = AnswerCache.create(256L << 20, TimeSource.system());
        storedKey = key(canonical);
        Flight flight = ((CacheLookup.Lead) cache.lookup(storedKey, TTL)).flight();
        flight.start(200, "application/json", false);
        flight.chunk(answer);
        flight.complete(0.01);
    }

    private static CacheKey key(byte[] canonicalBody) {
        return CacheKey.of("chat", "client:app", "POST", "/v1/chat/completions", canonicalBody);
    }

    /** Canonical JSON of the request body. */
    @Benchmark
    public byte[] canonicalize() {
        return CanonicalJson.of(body);
    }

    /** The SHA-256 key of an already canonical body. */
    @Benchmark
    public CacheKey digest() {
        return key(canonical);
    }

    /** What a hit costs keymux: canonicalise, digest, look up. */
    @Benchmark
    public CacheLookup hit() {
        return cache.lookup(key(CanonicalJson.of(body)), TTL);
    }

    /** A miss: a new key leads a flight that completes with a 1 KiB answer, which is stored. */
    @Benchmark
    public CacheLookup missLeadAndStore() {
        byte[] distinct = (missCounter++ + ":").getBytes(StandardCharsets.UTF_8);
        CacheLookup lookup = cache.lookup(CacheKey.of("chat", "client:app", "POST", "/v1/chat/completions",
                distinct), TTL);
        if (lookup instanceof CacheLookup.Lead lead) {
            lead.flight().start(200, "application/json", false);
            lead.flight().chunk(answer);
            lead.flight().complete(0.01);
        }
        return lookup;
    }
}
