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

        public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(500);
        public static final int DEFAULT_FAILURE_THRESHOLD = 3;

        /** A URI and a fixed local share, the other settings at their defaults. */
        public RedisConfig(String uri, double localShare) {
            this(uri, DEFAULT_TIMEOUT, DEFAULT_FAILURE_THRESHOLD, localShare);
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
        return new LimitsConfig(Backend.LOCAL, new RedisConfig(
                "redis://127.0.0.1:6379", RedisConfig.DEFAULT_TIMEOUT, RedisConfig.DEFAULT_FAILURE_THRESHOLD, null));
    }
}
