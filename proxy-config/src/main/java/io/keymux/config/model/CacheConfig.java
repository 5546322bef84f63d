package io.keymux.config.model;

import java.time.Duration;

/** A task's response cache settings. */
public record CacheConfig(boolean enabled, Duration ttl) {

    /** Caching off, 10 minute TTL if turned on. */
    public static CacheConfig disabled() {
        return new CacheConfig(false, Duration.ofMinutes(10));
    }
}
