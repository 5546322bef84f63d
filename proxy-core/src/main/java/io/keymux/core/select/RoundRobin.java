package io.keymux.core.select;

/**
 * Round robin that resumes after the last key taken, so a skipped key does not hand its turn to one
 * neighbour twice. The cursor is updated without a lock: a race may repeat one key, never lose one.
 */
final class RoundRobin implements SelectionStrategy {
    private volatile int cursor;

    @Override
    public boolean select(KeySlot[] tier, Attempt attempt) {
        return select(tier, 0, tier.length, attempt);
    }

    /** Round robin within {@code tier[from, to)}. */
    boolean select(KeySlot[] tier, int from, int to, Attempt attempt) {
        int n = to - from;
        int start = Math.floorMod(cursor, n);
        for (int i = 0; i < n; i++) {
            int index = (start + i) % n;
            if (attempt.take(tier[from + index])) {
                cursor = index + 1;
                return true;
            }
        }
        return false;
    }
}
