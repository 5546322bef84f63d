package io.keymux.core.affinity;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One replica's map of provider object ids to the {@code key_id} whose account holds them: at most
 * {@code affinity.max_entries} ids, each forgotten {@code affinity.ttl} after it was last used.
 * Values are key ids, never secrets. Thread-safe.
 *
 * <pre>{@code
 * ObjectMap map = ObjectMap.create(1_000_000, Duration.ofDays(30), TimeSource.system());
 * map.remember("file-abc", "team_a");
 * map.keyOf("file-abc"); // "team_a"
 * }</pre>
 */
public final class ObjectMap {
    private final Cache<String, String> ids;

    private ObjectMap(Cache<String, String> ids) {
        this.ids = ids;
    }

    /** A map bounded by {@code maxEntries} and {@code ttl} since last access, on {@code time}'s clock. */
    public static ObjectMap create(long maxEntries, Duration ttl, TimeSource time) {
        Objects.requireNonNull(ttl, "ttl");
        Objects.requireNonNull(time, "time");
        if (maxEntries <= 0) {
            throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: > 0)");
        }
        return new ObjectMap(Caffeine.newBuilder()
                .maximumSize(maxEntries)
                .expireAfterAccess(ttl)
                .ticker(time::nanoTime)
                // Eviction work on the caller's thread: no ForkJoinPool task per write.
                .executor(Runnable::run)
                .build());
    }

    /** The key holding {@code id}, or {@code null}; a hit counts as a use. */
    public @Nullable String keyOf(String id) {
        return ids.getIfPresent(id);
    }

    /** Records that {@code keyId}'s account holds {@code id}. */
    public void remember(String id, String keyId) {
        ids.put(Objects.requireNonNull(id, "id"), Objects.requireNonNull(keyId, "keyId"));
    }

    /** Forgets {@code id} (the object was deleted). */
    public void forget(String id) {
        ids.invalidate(id);
    }

    /** Ids held now, after pending evictions ran. */
    public long size() {
        ids.cleanUp();
        return ids.estimatedSize();
    }
}
