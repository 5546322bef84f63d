package io.keymux.config.model;

import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * A task's response cache settings (SPEC.md section 3.8).
 *
 * @param ttl how long a stored answer is served again
 * @param scope which requests may share an answer
 * @param stream whether streamed (SSE) answers are stored and replayed
 */
public record CacheConfig(boolean enabled, Duration ttl, Scope scope, boolean stream) {

    /** Who shares a cached answer. */
    public enum Scope {
        /** Only the same client (the default). */
        CLIENT,
        /** Any client of the task. */
        TASK,
        /** Any request with the same task, method, path, query and body. */
        GLOBAL;

        /** The config spelling, for example {@code client}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Parses the config spelling. */
        public static Optional<Scope> fromConfigName(String name) {
            for (Scope s : values()) {
                if (s.configName().equals(name)) {
                    return Optional.of(s);
                }
            }
            return Optional.empty();
        }
    }

    /** On or off with this TTL, client scope, streams cached. */
    public CacheConfig(boolean enabled, Duration ttl) {
        this(enabled, ttl, Scope.CLIENT, true);
    }

    /** Caching off, 10 minute TTL if turned on. */
    public static CacheConfig disabled() {
        return new CacheConfig(false, Duration.ofMinutes(10));
    }
}
