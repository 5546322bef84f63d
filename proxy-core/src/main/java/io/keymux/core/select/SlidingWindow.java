package io.keymux.core.select;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A count over the last 60 seconds in 60 one-second slots, for {@code usage.rpm}/{@code usage.tpm}.
 * Lock-free; a slot is reset by whichever writer first sees it belongs to an older second, so a
 * concurrent write at a second boundary may be lost: good enough for a dashboard, never used for
 * limits.
 */
final class SlidingWindow {
    private static final int SLOTS = 60;
    private static final long SECOND = 1_000_000_000L;

    private final AtomicLongArray counts = new AtomicLongArray(SLOTS);
    private final AtomicLongArray seconds = new AtomicLongArray(SLOTS);

    SlidingWindow() {
        for (int i = 0; i < SLOTS; i++) {
            seconds.set(i, Long.MIN_VALUE);
        }
    }

    void add(long nowNanos, long amount) {
        long second = Math.floorDiv(nowNanos, SECOND);
        int slot = (int) Math.floorMod(second, SLOTS);
        long stamp = seconds.get(slot);
        if (stamp != second && seconds.compareAndSet(slot, stamp, second)) {
            counts.set(slot, 0);
        }
        counts.addAndGet(slot, amount);
    }

    long sum(long nowNanos) {
        long second = Math.floorDiv(nowNanos, SECOND);
        long total = 0;
        for (int i = 0; i < SLOTS; i++) {
            long stamp = seconds.get(i);
            if (stamp > second - SLOTS && stamp <= second) {
                total += counts.get(i);
            }
        }
        return total;
    }
}
