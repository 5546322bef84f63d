package io.keymux.core.select;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The usable key with the lowest latency EWMA. Keys never measured count as 0 so they are tried
 * first. Every {@value #EXPLORE_EVERY}th pick is round robin instead, so a slow key that recovered
 * gets measured again (a deterministic counter: tests see exact sequences).
 */
final class LowestLatency implements SelectionStrategy {
    static final int EXPLORE_EVERY = 10;

    private final AtomicLong picks = new AtomicLong();
    private final RoundRobin explore = new RoundRobin();

    @Override
    public boolean select(KeySlot[] tier, Attempt attempt) {
        if (picks.incrementAndGet() % EXPLORE_EVERY == 0 && explore.select(tier, attempt)) {
            return true;
        }
        return LowestScore.take(tier, attempt, slot -> attempt.usable(slot) ? slot.latencyEwma() : Double.NaN);
    }
}
