package io.keymux.core.select;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A count over the last 60 seconds in 60 one-second slots, for {@code usage.rpm}/{@code usage.tpm}.
 * Lock-free and exact: a slot holds one cell per second, and a writer that finds an older second's
 * cell swaps in a fresh one by compare-and-set, so a concurrent write is never wiped by the reset
 * (as it was when the second and the count were two separate fields). Never used for limits.
 */
final class SlidingWindow {
    private static final int SLOTS = 60;
    private static final long SECOND = 1_000_000_000L;

    /** One second's count. */
    private static final class Cell {
        final long second;
        final AtomicLong count = new AtomicLong();

        Cell(long second) {
            this.second = second;
        }
    }

    private final AtomicReferenceArray<Cell> cells = new AtomicReferenceArray<>(SLOTS);

    void add(long nowNanos, long amount) {
        long second = Math.floorDiv(nowNanos, SECOND);
        int slot = (int) Math.floorMod(second, SLOTS);
        for (;;) {
            Cell cell = cells.get(slot);
            if (cell != null && cell.second >= second) {
                if (cell.second == second) {
                    cell.count.addAndGet(amount);
                }
                // else: a write for a second that left the window (a writer 60 s late) counts nowhere.
                return;
            }
            Cell fresh = new Cell(second);
            if (cells.compareAndSet(slot, cell, fresh)) {
                fresh.count.addAndGet(amount);
                return;
            }
        }
    }

    long sum(long nowNanos) {
        long second = Math.floorDiv(nowNanos, SECOND);
        long total = 0;
        for (int i = 0; i < SLOTS; i++) {
            Cell cell = cells.get(i);
            if (cell != null && cell.second > second - SLOTS && cell.second <= second) {
                total += cell.count.get();
            }
        }
        return total;
    }
}
