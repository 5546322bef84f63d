package io.keymux.core.select;

import io.keymux.core.ratelimit.ModelBucket;

/**
 * One {@code models} bucket of a key with what the broker learns about it: a cooldown after a 429
 * that named the model, and usage counters for the admin API. Guarded by the owning
 * {@link KeySlot}'s monitor (the counters are lock-free).
 */
final class ModelSlot {
    final ModelBucket bucket;
    long cooldownUntil = Long.MIN_VALUE;
    final SlidingWindow requestWindow = new SlidingWindow();
    final SlidingWindow tokenWindow = new SlidingWindow();

    ModelSlot(ModelBucket bucket) {
        this.bucket = bucket;
    }

    boolean cooling(long now) {
        return cooldownUntil != Long.MIN_VALUE && now - cooldownUntil < 0;
    }

    /** A later 429 never shortens a cooldown already running. */
    void coolUntil(long until) {
        if (cooldownUntil == Long.MIN_VALUE || until - cooldownUntil > 0) {
            cooldownUntil = until;
        }
    }
}
