package io.keymux.config.model;

/** Where per-key limit state lives: in this process, or shared by every replica through Redis. */
public record LimitsConfig(Backend backend, RedisConfig redis) {

    /** The limit backend. */
    public enum Backend {
        LOCAL,
        REDIS
    }

    /**
     * @param uri Redis URI, for example {@code redis://127.0.0.1:6379}
     * @param localShare share (0..1] of each key's limits one replica may use alone while Redis is down
     */
    public record RedisConfig(String uri, double localShare) {}

    /** Local limits, Redis settings at their defaults. */
    public static LimitsConfig defaults() {
        return new LimitsConfig(Backend.LOCAL, new RedisConfig("redis://127.0.0.1:6379", 1.0));
    }
}
