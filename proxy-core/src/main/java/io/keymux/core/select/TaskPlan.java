package io.keymux.core.select;

import io.keymux.config.model.TaskConfig;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * One task's candidate keys in tiers (own keys, then each fallback task's, then {@code "*"} keys),
 * a strategy per tier, and its per-key lease counters.
 */
final class TaskPlan {
    final TaskConfig task;
    final KeySlot[][] tiers;
    final SelectionStrategy[] strategies;
    final KeySlot[] all;
    final Map<String, LongAdder> leasesByKey;
    /**
     * Tasks (this one included) whose candidates share a key with this task's and whose priority is
     * at least this task's: while one of them has waiters, a new request of this task queues behind
     * them instead of overtaking. Set once after every plan of a topology is built.
     */
    String[] rivals = new String[0];

    TaskPlan(TaskConfig task, KeySlot[][] tiers, KeySlot[] all, Map<String, LongAdder> leasesByKey) {
        this.task = task;
        this.tiers = tiers;
        this.all = all;
        this.leasesByKey = Map.copyOf(leasesByKey);
        strategies = new SelectionStrategy[tiers.length];
        for (int i = 0; i < tiers.length; i++) {
            strategies[i] = SelectionStrategy.of(task.strategy(), tiers[i]);
        }
    }
}
