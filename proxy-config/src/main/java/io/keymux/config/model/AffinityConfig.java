package io.keymux.config.model;

import java.time.Duration;
import java.util.Objects;

/**
 * The map of which key holds which provider object (SPEC.md sections 2 and 3.9).
 *
 * @param ttl how long an object id is remembered after it was last used
 * @param maxEntries ids each replica keeps in memory; with the Redis backend Redis holds them all
 */
public record AffinityConfig(Duration ttl, long maxEntries) {

    /** 30 days: as long as a provider keeps a stored response. */
    public static final Duration DEFAULT_TTL = Duration.ofDays(30);
    public static final long DEFAULT_MAX_ENTRIES = 1_000_000L;

    public AffinityConfig {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl + " (expected: > 0)");
        }
        if (maxEntries <= 0) {
            throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: > 0)");
        }
    }

    /** The defaults: 30 days, a million ids. */
    public static AffinityConfig defaults() {
        return new AffinityConfig(DEFAULT_TTL, DEFAULT_MAX_ENTRIES);
    }
}
