package io.keymux.config.model;

/**
 * The process-wide response store shared by every task that caches (SPEC.md sections 2 and 3.8).
 *
 * @param maxBytes answers are evicted, least recently used first, beyond this total size
 */
public record CacheStoreConfig(long maxBytes) {

    /** 256 MiB. */
    public static final long DEFAULT_MAX_BYTES = 268_435_456L;

    /** The default store size. */
    public static CacheStoreConfig defaults() {
        return new CacheStoreConfig(DEFAULT_MAX_BYTES);
    }
}
