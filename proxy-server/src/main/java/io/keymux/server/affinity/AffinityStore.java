package io.keymux.server.affinity;

import io.keymux.config.model.AffinityConfig;
import io.keymux.core.affinity.ObjectMap;
import io.keymux.core.time.TimeSource;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Where the map of provider object ids to key ids lives: this replica's memory
 * ({@link #local}), or Redis, shared by every replica ({@link RedisAffinityStore}). Values are
 * {@code key_id}s, never secrets. Non-blocking and thread-safe.
 */
public interface AffinityStore {

    /** The key holding {@code id}, or {@code null} when unknown (or Redis could not say in time); never fails. */
    CompletableFuture<@Nullable String> keyOf(String id);

    /** Records that {@code keyId}'s account holds {@code id}. */
    void remember(String id, String keyId);

    /** Forgets {@code id}: the object was deleted. */
    void forget(String id);

    /** Ids this replica holds in memory. */
    long localSize();

    /** The in-memory map of {@code affinity}: {@code max_entries} ids, {@code ttl} after last use. */
    static AffinityStore local(AffinityConfig config, TimeSource time) {
        return new LocalAffinityStore(ObjectMap.create(config.maxEntries(), config.ttl(), time));
    }
}
