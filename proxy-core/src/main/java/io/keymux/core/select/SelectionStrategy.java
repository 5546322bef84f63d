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
        // A switch expression with no default: a new Strategy constant fails to compile here
        // instead of silently becoming round robin.
        return switch (strategy) {
            case ROUND_ROBIN -> new RoundRobin();
            case LEAST_LOADED -> LeastLoaded.INSTANCE;
            // Highest priority first.
            case PRIORITY -> new RankedRoundRobin(tier, Comparator.comparingInt((ApiKeyConfig k) -> -k.priority()));
            case COST -> new RankedRoundRobin(tier,
                    Comparator.comparingDouble((ApiKeyConfig k) -> k.inputTokenCost() + k.outputTokenCost()));
            case LATENCY -> new LowestLatency();
            case WEIGHTED -> new SmoothWeighted(tier.length);
        };
    }
}
