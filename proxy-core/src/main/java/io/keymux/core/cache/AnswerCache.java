package io.keymux.core.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;

/**
 * The process-wide answer store (SPEC.md section 3.8) and the requests in flight for it. Entries are
 * weighed by their bytes and bounded by {@code cache.max_bytes} (Caffeine's size-based eviction,
 * which keeps the entries used most recently and most often), and each expires after the TTL of the
 * task that stored it. Answers over {@link #MAX_ANSWER_BYTES} are never stored.
 *
 * <pre>{@code
 * AnswerCache cache = AnswerCache.create(256 << 20, TimeSource.system());
 * CacheLookup lookup = cache.lookup(key, Duration.ofMinutes(10));
 * if (lookup instanceof CacheLookup.Hit hit) {
 *     send(hit.answer());                       // no upstream call
 * } else if (lookup instanceof CacheLookup.Join join) {
 *     join.flight().join(listener);             // wait for the identical request in flight
 * } else {
 *     forwardAndFeed(((CacheLookup.Lead) lookup).flight());
 * }
 * }</pre>
 */
public final class AnswerCache {
    /** Answers larger than this are passed on but never stored (8 MiB). */
    public static final int MAX_ANSWER_BYTES = 8 * 1024 * 1024;

    private record Entry(StoredAnswer answer, long ttlNanos) {}

    private final Cache<CacheKey, Entry> store;
    private final ConcurrentMap<CacheKey, Flight> flights = new ConcurrentHashMap<>();

    private AnswerCache(long maxBytes, Ticker ticker, Executor maintenance) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: > 0)");
        }
        this.store = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((CacheKey k, Entry e) -> e.answer().weight())
                .expireAfter(Expiry.creating((CacheKey k, Entry e) -> Duration.ofNanos(e.ttlNanos())))
                .ticker(ticker)
                .executor(maintenance)
                .build();
    }

    /** A store of at most {@code maxBytes}, on {@code time}'s clock, maintained on the common pool. */
    public static AnswerCache create(long maxBytes, TimeSource time) {
        Objects.requireNonNull(time, "time");
        return new AnswerCache(maxBytes, time::nanoTime, java.util.concurrent.ForkJoinPool.commonPool());
    }

    /** For tests: maintenance runs on the calling thread, so sizes are exact after each call. */
    public static AnswerCache createForTest(long maxBytes, TimeSource time) {
        Objects.requireNonNull(time, "time");
        return new AnswerCache(maxBytes, time::nanoTime, Runnable::run);
    }

    /**
     * Bounds the store at {@code maxBytes} from now on (a reload that changed {@code cache.max_bytes});
     * shrinking evicts least recently used answers until the total fits. Takes the store's eviction
     * lock: call it off the event loops.
     */
    public void resize(long maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: > 0)");
        }
        store.policy().eviction().ifPresent(e -> e.setMaximum(maxBytes));
    }

    /** The bound set at creation or by the last {@link #resize}. */
    public long maxBytes() {
        return store.policy().eviction().map(e -> e.getMaximum()).orElse(Long.MAX_VALUE);
    }

    /**
     * A stored answer, else the flight of an identical request to join, else a new flight this
     * request leads (stored for {@code ttl} once it completes as a 2xx).
     */
    public CacheLookup lookup(CacheKey key, Duration ttl) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(ttl, "ttl");
        Entry entry = store.getIfPresent(key);
        if (entry != null) {
            return new CacheLookup.Hit(entry.answer());
        }
        Flight mine = new Flight(key, ttl, this);
        Flight existing = flights.putIfAbsent(key, mine);
        if (existing != null) {
            return new CacheLookup.Join(existing);
        }
        // Stored between our read and our registration: answer from the store after all.
        Entry late = store.getIfPresent(key);
        if (late != null) {
            flights.remove(key, mine);
            return new CacheLookup.Hit(late.answer());
        }
        return new CacheLookup.Lead(mine);
    }

    /**
     * A flight nobody can join, whose 2xx answer is still stored: for a request that waited on
     * another and goes on by itself.
     */
    public Flight solo(CacheKey key, Duration ttl) {
        return new Flight(key, ttl, this);
    }

    void store(CacheKey key, StoredAnswer answer, Duration ttl) {
        if (answer.body().length <= MAX_ANSWER_BYTES && !ttl.isZero() && !ttl.isNegative()) {
            store.put(key, new Entry(answer, ttl.toNanos()));
        }
    }

    /** The flight ended or stopped taking joiners: later identical requests look up afresh. */
    void landed(Flight flight) {
        flights.remove(flight.key(), flight);
    }

    /** Empties the store; returns how many answers it held. Flights in flight are left alone. */
    public long purge() {
        store.cleanUp();
        long n = store.estimatedSize();
        store.invalidateAll();
        store.cleanUp();
        return n;
    }

    /** The stored answers' total weight in bytes (what {@code cache.max_bytes} bounds). */
    public long bytes() {
        return store.policy().eviction().map(e -> e.weightedSize().orElse(0L)).orElse(0L);
    }

    /** How many answers are stored (after pending maintenance). */
    public long entries() {
        store.cleanUp();
        return store.estimatedSize();
    }

    /** Requests in flight that others may join. */
    public int flights() {
        return flights.size();
    }

    /** Requests waiting on flights (leaders' own clients not counted): how many were coalesced right now. */
    public int waiting() {
        int n = 0;
        for (Flight f : flights.values()) {
            n += f.waiting();
        }
        return n;
    }

    /** Runs pending evictions and expirations now. */
    public void cleanUp() {
        store.cleanUp();
    }
}
