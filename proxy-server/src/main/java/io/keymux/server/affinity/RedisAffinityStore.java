package io.keymux.server.affinity;

import io.keymux.config.model.AffinityConfig;
import io.keymux.core.affinity.ObjectMap;
import io.keymux.core.time.TimeSource;
import io.keymux.server.sharedstate.RedisHealth;
import io.lettuce.core.GetExArgs;
import io.lettuce.core.SetArgs;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The object map of {@code limits.backend: redis} (SPEC.md section 8): one Redis string per id,
 * {@code PREFIX:affinity:ID -> key_id}, with the TTL of {@code affinity.ttl} set on every write and
 * refreshed on every read ({@code GETEX}), so every replica routes an id alike and a restart forgets
 * nothing.
 *
 * <p>This replica's {@link ObjectMap} sits in front: an id it has seen needs no round trip (an id
 * never moves to another key; a deleted one is gone from the provider too), and while Redis is down
 * it is all there is; an id neither knows is searched for on the keys (see {@link ObjectAffinity}).
 * A lookup Redis does not answer within {@code limits.redis.timeout} counts as unknown.
 */
public final class RedisAffinityStore implements AffinityStore {
    private final RedisHealth redis;
    private final String prefix;
    private final long ttlMillis;
    private final ObjectMap local;

    /** The map on {@code redis}, its keys under {@code prefix}, with a local map of {@code config}'s bounds in front. */
    public RedisAffinityStore(RedisHealth redis, String prefix, AffinityConfig config, TimeSource time) {
        this.redis = Objects.requireNonNull(redis, "redis");
        this.prefix = Objects.requireNonNull(prefix, "prefix") + ":affinity:";
        this.ttlMillis = config.ttl().toMillis();
        this.local = ObjectMap.create(config.maxEntries(), config.ttl(), time);
    }

    @Override
    public CompletableFuture<@Nullable String> keyOf(String id) {
        String known = local.keyOf(id);
        String key = prefix + id;
        if (known != null) {
            // A use refreshes the shared TTL too; nobody waits for it.
            redis.send(a -> a.pexpire(key, ttlMillis), false, false);
            return CompletableFuture.completedFuture(known);
        }
        return redis.<@Nullable String>send(a -> a.getex(key, GetExArgs.Builder.px(ttlMillis)), null, null)
                .thenApply(keyId -> {
                    if (keyId != null) {
                        local.remember(id, keyId);
                    }
                    return keyId;
                })
                .exceptionally(error -> null);
    }

    @Override
    public void remember(String id, String keyId) {
        local.remember(id, keyId);
        redis.send(a -> a.set(prefix + id, keyId, SetArgs.Builder.px(ttlMillis)), "", "");
    }

    @Override
    public void forget(String id) {
        local.forget(id);
        redis.send(a -> a.del(prefix + id), 0L, 0L);
    }

    @Override
    public long localSize() {
        return local.size();
    }
}
