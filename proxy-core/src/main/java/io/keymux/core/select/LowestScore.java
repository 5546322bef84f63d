package io.keymux.core.select;

import java.util.function.ToDoubleFunction;

/**
 * The selection loop shared by the strategies that rank keys by a number ({@link LeastLoaded},
 * {@link LowestLatency}): take the key with the lowest score; if the take loses a race (or the ramp
 * says no), try the next lowest. A NaN score means the key is not a candidate.
 */
final class LowestScore {
    private LowestScore() {}

    /** Takes the lowest-scored key of the tier; ties go to the earlier key in config order. */
    static boolean take(KeySlot[] tier, Attempt attempt, ToDoubleFunction<KeySlot> score) {
        boolean[] failed = null;
        while (true) {
            int best = -1;
            double bestScore = Double.MAX_VALUE;
            for (int i = 0; i < tier.length; i++) {
                if (failed != null && failed[i]) {
                    continue;
                }
                double s = score.applyAsDouble(tier[i]);
                if (!Double.isNaN(s) && s < bestScore) {
                    best = i;
                    bestScore = s;
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
