package io.keymux.core.select;

import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.time.Instant;

/** A clock that moves only when told; nano and wall time move together. */
final class FakeTime implements TimeSource {
    private long nanos = 1_000_000_000_000L;
    private long millis;

    FakeTime(Instant start) {
        millis = start.toEpochMilli();
    }

    FakeTime() {
        this(Instant.parse("2026-11-22T10:00:00Z"));
    }

    @Override
    public synchronized long nanoTime() {
        return nanos;
    }

    @Override
    public synchronized long currentTimeMillis() {
        return millis;
    }

    synchronized void advance(Duration d) {
        advanceNanos(d.toNanos());
    }

    synchronized void advanceNanos(long delta) {
        long before = nanos;
        nanos += delta;
        millis += Math.floorDiv(nanos, 1_000_000L) - Math.floorDiv(before, 1_000_000L);
    }
}
