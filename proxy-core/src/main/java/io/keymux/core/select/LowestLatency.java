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
        boolean[] failed = null;
        while (true) {
            int best = -1;
            double bestLatency = Double.MAX_VALUE;
            for (int i = 0; i < tier.length; i++) {
                if ((failed != null && failed[i]) || !attempt.usable(tier[i])) {
                    continue;
                }
                double latency = tier[i].latencyEwma();
                if (latency < bestLatency) {
                    best = i;
                    bestLatency = latency;
                }
            }
            if (best < 0) {
                return false;
            }
            if (attempt.take(tier[best])) {
                return true;
            }
            if (failed == null) {
                failed = new boolean[tier.length];
            }
            failed[best] = true;
        }
    }
}
