package io.keymux.config.load;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.CacheStoreConfig;
import java.util.List;

/** The top-level {@code cache} block: the process-wide response store. */
final class CacheStoreMapper extends SectionMapper {
    static final List<String> CACHE_STORE_FIELDS = List.of("max_bytes");

    CacheStoreMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    CacheStoreConfig cacheStore(ObjectNode root) {
        ObjectNode o = object(field(root, "cache"), "cache", CACHE_STORE_FIELDS);
        if (o == null) {
            return CacheStoreConfig.defaults();
        }
        return new CacheStoreConfig(
                longOr(positiveLong(o, "max_bytes", "cache.max_bytes"), CacheStoreConfig.DEFAULT_MAX_BYTES));
    }
}
