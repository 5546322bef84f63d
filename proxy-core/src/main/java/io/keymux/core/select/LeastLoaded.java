package io.keymux.core.select;

/**
 * The usable key with the lowest utilisation (the largest of its rpm, tpm and concurrency
 * fractions); ties go to the earlier key in config order.
 */
enum LeastLoaded implements SelectionStrategy {
    INSTANCE;

    @Override
    public boolean select(KeySlot[] tier, Attempt attempt) {
        boolean[] failed = null;
        while (true) {
            int best = -1;
            double bestLoad = Double.MAX_VALUE;
            for (int i = 0; i < tier.length; i++) {
                if ((failed != null && failed[i]) || attempt.excluded(tier[i])) {
                    continue;
                }
                double load = tier[i].load(attempt.estimate, attempt.now, attempt.day);
                if (!Double.isNaN(load) && load < bestLoad) {
                    best = i;
                    bestLoad = load;
                }
            }
            if (best < 0) {
                return false;
            }
            if (attempt.take(tier[best])) {
                return true;
            }
            // Lost a race for the key (or the ramp said no): try the next best.
            if (failed == null) {
                failed = new boolean[tier.length];
            }
            failed[best] = true;
        }
    }
}
