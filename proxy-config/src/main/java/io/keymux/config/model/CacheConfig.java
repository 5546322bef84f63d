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

    /** Caching off, 10 minute TTL if turned on. */
    public static CacheConfig disabled() {
        return builder().build();
    }

    /** A builder with every setting at its default. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these settings, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.enabled = enabled;
        b.ttl = ttl;
        b.scope = scope;
        b.stream = stream;
        return b;
    }

    /** Builds a {@link CacheConfig} by name: off, 10 minutes, client scope, streams cached. */
    public static final class Builder {
        private boolean enabled = false;
        private Duration ttl = Duration.ofMinutes(10);
        private Scope scope = Scope.CLIENT;
        private boolean stream = true;

        private Builder() {}

        public Builder enabled(boolean enabled) {
            this.enabled = enabled;
            return this;
        }

        public Builder ttl(Duration ttl) {
            this.ttl = ttl;
            return this;
        }

        public Builder scope(Scope scope) {
            this.scope = scope;
            return this;
        }

        public Builder stream(boolean stream) {
            this.stream = stream;
            return this;
        }

        public CacheConfig build() {
            return new CacheConfig(enabled, ttl, scope, stream);
        }
    }
}
