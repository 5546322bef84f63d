package io.keymux.core.insight;

import io.keymux.config.model.Strategy;
import java.util.List;

/**
 * One task's shape, for the redundancy and cost rules.
 *
 * @param keyIds the task's own keys, in declaration order
 * @param fallback its fallback tasks
 */
public record TaskObservation(String name, Strategy strategy, List<String> keyIds, List<String> fallback) {

    public TaskObservation {
        keyIds = List.copyOf(keyIds);
        fallback = List.copyOf(fallback);
    }
}
