package io.keymux.core.select;

import java.util.Set;
import org.jspecify.annotations.Nullable;

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
    /** The request's model, which picks each key's {@code models} bucket. */
    final @Nullable String model;
    boolean rampDenied;
    /**
     * While set, keys past their {@code budget_warn_at} share are not candidates: the broker first
     * offers a tier without them, then (only if that found nothing and {@link #sawWarned}) with them.
     */
    boolean skipWarned;
    boolean sawWarned;
    /** Set by {@link #take}: the key taken, its model bucket, and what {@link KeySlot#tryTake} returned. */
    @Nullable KeySlot taken;
    @Nullable ModelSlot takenModel;
    long takeResult;

    Attempt(long estimate, long now, long day, boolean ignoreRamp, Set<String> excluded, @Nullable String model) {
        this.estimate = estimate;
        this.now = now;
        this.day = day;
        this.ignoreRamp = ignoreRamp;
        this.excluded = excluded;
        this.model = model;
        this.taken = null;
    }

    boolean excluded(KeySlot slot) {
        return !excluded.isEmpty() && excluded.contains(slot.keyId());
    }

    /** Whether this pass leaves the key out: tried before, or past its budget warning while those wait. */
    boolean skipped(KeySlot slot) {
        if (excluded(slot)) {
            return true;
        }
        if (skipWarned && slot.pastBudgetWarning(day)) {
            sawWarned = true;
            return true;
        }
        return false;
    }

    /** Utilisation of the key for this request (its model bucket included), NaN when it cannot take it. */
    double load(KeySlot slot) {
        return skipped(slot) ? Double.NaN : slot.load(estimate, now, day, slot.modelFor(model));
    }

    /** Whether the key is a candidate in this pass and could take the request now (no reservation). */
    boolean usable(KeySlot slot) {
        return !skipped(slot) && slot.available(estimate, now, day, slot.modelFor(model));
    }

    /** Reserves the key for this request if it can take it; true on success. */
    boolean take(KeySlot slot) {
        if (skipped(slot)) {
            return false;
        }
        ModelSlot m = slot.modelFor(model);
        long result = slot.tryTake(estimate, now, day, ignoreRamp, m);
        if (result == -2) {
            rampDenied = true;
            return false;
        }
        if (result < 0) {
            return false;
        }
        taken = slot;
        takenModel = m;
        takeResult = result;
        return true;
    }
}
