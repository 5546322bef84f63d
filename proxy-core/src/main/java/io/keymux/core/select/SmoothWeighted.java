package io.keymux.core.select;

/**
 * nginx's smooth weighted round robin over the usable keys: each pick adds every usable key's weight
 * to its current weight, takes the largest, and subtracts the total from it. Weights {@code 5,1,1}
 * give {@code a a b a c a a}. Weights below 1 count as 1.
 */
final class SmoothWeighted implements SelectionStrategy {
    private final long[] current;

    SmoothWeighted(int size) {
        current = new long[size];
    }

    @Override
    public boolean select(KeySlot[] tier, Attempt attempt) {
        boolean[] failed = null;
        while (true) {
            int best;
            synchronized (this) {
                best = -1;
                long total = 0;
                for (int i = 0; i < tier.length; i++) {
                    if ((failed != null && failed[i]) || !attempt.usable(tier[i])) {
                        continue;
                    }
                    long weight = Math.max(1, tier[i].config().weight());
                    current[i] += weight;
                    total += weight;
                    if (best < 0 || current[i] > current[best]) {
                        best = i;
                    }
                }
                if (best < 0) {
                    return false;
                }
                current[best] -= total;
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
