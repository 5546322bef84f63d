package io.keymux.core.select;

/**
 * The usable key with the lowest utilisation (the largest of its rpm, tpm and concurrency
 * fractions); ties go to the earlier key in config order.
 */
enum LeastLoaded implements SelectionStrategy {
    INSTANCE;

    @Override
    public boolean select(KeySlot[] tier, Attempt attempt) {
        return LowestScore.take(tier, attempt, attempt::load);
    }
}
