package io.keymux.core.select;

import java.util.Set;

/**
 * One pass of one request over its candidate keys: what strategies call to test and take keys. Not
 * shared between threads.
 */
final class Attempt {
    final long estimate;
    final long now;
    final long day;
    final boolean ignoreRamp;
    private final Set<String> excluded;
    boolean rampDenied;
    /** Set by {@link #take}: the key taken and what {@link KeySlot#tryTake} returned. */
    @org.jspecify.annotations.Nullable KeySlot taken;
    long takeResult;

    Attempt(long estimate, long now, long day, boolean ignoreRamp, Set<String> excluded) {
        this.estimate = estimate;
        this.now = now;
        this.day = day;
        this.ignoreRamp = ignoreRamp;
        this.excluded = excluded;
        this.taken = null;
    }

    boolean excluded(KeySlot slot) {
        return !excluded.isEmpty() && excluded.contains(slot.keyId());
    }

    /** Whether the key is untried by this request and could take it now (no reservation). */
    boolean usable(KeySlot slot) {
        return !excluded(slot) && slot.available(estimate, now, day);
    }

    /** Reserves the key for this request if it can take it; true on success. */
    boolean take(KeySlot slot) {
        if (excluded(slot)) {
            return false;
        }
        long result = slot.tryTake(estimate, now, day, ignoreRamp);
        if (result == -2) {
            rampDenied = true;
            return false;
        }
        if (result < 0) {
            return false;
        }
        taken = slot;
        takeResult = result;
        return true;
    }
}
