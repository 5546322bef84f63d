package io.keymux.server.affinity;

import io.keymux.core.affinity.ObjectMap;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/** The object map of {@code limits.backend: local}: this replica's {@link ObjectMap}. */
final class LocalAffinityStore implements AffinityStore {
    private static final CompletableFuture<@Nullable String> UNKNOWN = CompletableFuture.completedFuture(null);

    private final ObjectMap map;

    LocalAffinityStore(ObjectMap map) {
        this.map = map;
    }

    @Override
    public CompletableFuture<@Nullable String> keyOf(String id) {
        String keyId = map.keyOf(id);
        return keyId == null ? UNKNOWN : CompletableFuture.completedFuture(keyId);
    }

    @Override
    public void remember(String id, String keyId) {
        map.remember(id, keyId);
    }

    @Override
    public void forget(String id) {
        map.forget(id);
    }

    @Override
    public long localSize() {
        return map.size();
    }
}
