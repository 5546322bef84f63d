package io.keymux.config.model;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/** Where per-key limit state lives: in this process, or shared by every replica through Redis. */
public record LimitsConfig(Backend backend, RedisConfig redis) {

    /** The limit backend. */
    public enum Backend {
        LOCAL,
        REDIS
    }

    /**
     * @param uri Redis URI, for example {@code redis://127.0.0.1:6379}
     * @param timeout how long one shared decision may take before it is retried (within the
     *     request's {@code max_wait}); a slow answer is never granted locally
     * @param failureThreshold consecutive failed calls (timeouts, refused connections) before Redis
     *     counts as down; a lost connection counts at once
     * @param localShare share (0..1] of each key's limits one replica may use alone while Redis is
     *     down, or {@code null} for {@code auto}: 1/N, N the replicas alive in the last 30 s
     */
    public record RedisConfig(String uri, Duration timeout, int failureThreshold, @Nullable Double localShare) {

        public static final String DEFAULT_URI = "redis://127.0.0.1:6379";
        public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(500);
        public static final int DEFAULT_FAILURE_THRESHOLD = 3;

        /** The defaults: {@code redis://127.0.0.1:6379}, 500ms, 3 failures, {@code auto} share. */
        public static RedisConfig defaults() {
            return builder().build();
        }

        /** A builder with every setting at its default. */
        public static Builder builder() {
            return new Builder();
        }

        /** A builder holding these settings, to change some of them. */
        public Builder toBuilder() {
            return builder().uri(uri).timeout(timeout).failureThreshold(failureThreshold).localShare(localShare);
        }

        /** Builds a {@link RedisConfig} by name. */
        public static final class Builder {
            private String uri = DEFAULT_URI;
            private Duration timeout = DEFAULT_TIMEOUT;
            private int failureThreshold = DEFAULT_FAILURE_THRESHOLD;
            private @Nullable Double localShare;

            private Builder() {}

            public Builder uri(String uri) {
                this.uri = uri;
                return this;
            }

            public Builder timeout(Duration timeout) {
                this.timeout = timeout;
                return this;
            }

            public Builder failureThreshold(int failureThreshold) {
                this.failureThreshold = failureThreshold;
                return this;
            }

            /** A share in (0, 1], or {@code null} for {@code auto}. */
            public Builder localShare(@Nullable Double localShare) {
                this.localShare = localShare;
                return this;
            }

            public RedisConfig build() {
                return new RedisConfig(uri, timeout, failureThreshold, localShare);
            }
        }

        /**
         * The share of each key's limits one replica uses while Redis is down: the fixed
         * {@code local_share}, or 1/{@code liveReplicas} when it is {@code auto}.
         */
        public double effectiveLocalShare(int liveReplicas) {
            return localShare != null ? localShare : 1.0 / Math.max(1, liveReplicas);
        }

        /** Whether the share while Redis is down is 1/N of the live replicas. */
        public boolean autoLocalShare() {
            return localShare == null;
        }
    }

    /** Local limits, Redis settings at their defaults. */
    public static LimitsConfig defaults() {
        return new LimitsConfig(Backend.LOCAL, RedisConfig.defaults());
    }
}
