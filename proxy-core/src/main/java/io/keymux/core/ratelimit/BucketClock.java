package io.keymux.core.ratelimit;

import io.github.bucket4j.TimeMeter;
import io.keymux.core.time.TimeSource;

/** Bucket4j's clock from the injected {@link TimeSource}, so refills follow a fake clock in tests. */
record BucketClock(TimeSource time) implements TimeMeter {

    @Override
    public long currentTimeNanos() {
        return time.nanoTime();
    }

    @Override
    public boolean isWallClockBased() {
        return false;
    }
}
