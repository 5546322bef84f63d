package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.Strategy;
import java.util.Comparator;

/**
 * Chooses a key within one tier of candidates and takes it through {@link Attempt#take}. Returns
 * whether a key was taken. Stateful strategies get one instance per task tier; stateless ones are
 * enum singletons.
 */
interface SelectionStrategy {

    boolean select(KeySlot[] tier, Attempt attempt);

    /** A fresh instance for one tier of one task. */
    static SelectionStrategy of(Strategy strategy, KeySlot[] tier) {
        switch (strategy) {
            case LEAST_LOADED:
                return LeastLoaded.INSTANCE;
            case PRIORITY:
                // Highest priority first.
                return new RankedRoundRobin(tier, Comparator.comparingInt((ApiKeyConfig k) -> -k.priority()));
            case COST:
                return new RankedRoundRobin(tier,
                        Comparator.comparingDouble((ApiKeyConfig k) -> k.inputTokenCost() + k.outputTokenCost()));
            case LATENCY:
                return new LowestLatency();
            case WEIGHTED:
                return new SmoothWeighted(tier.length);
            case ROUND_ROBIN:
            default:
                return new RoundRobin();
        }
    }
}
