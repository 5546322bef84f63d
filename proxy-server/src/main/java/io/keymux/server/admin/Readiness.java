package io.keymux.server.admin;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * The {@code /readyz} decision (SPEC.md section 5): ready when every task has a key (its own, a
 * fallback task's or a {@code "*"} key) and the server is not draining.
 *
 * @param ready whether to answer 200
 * @param reasons why not, for operators; empty when ready
 */
public record Readiness(boolean ready, List<String> reasons) {

    public Readiness {
        reasons = List.copyOf(reasons);
    }

    /** Evaluates readiness now. */
    public static Readiness of(KeymuxConfig config, BooleanSupplier draining) {
        Objects.requireNonNull(config, "config");
        List<String> reasons = new ArrayList<>();
        if (draining.getAsBoolean()) {
            reasons.add("draining: the server is shutting down");
        }
        boolean anyKeyForAll = config.apiKeys().stream().anyMatch(ApiKeyConfig::servesAnyTask);
        for (TaskConfig task : config.tasks()) {
            if (!anyKeyForAll && !hasKey(config, task)) {
                reasons.add("task '" + task.name() + "' has no api key (api_keys[].task_types)");
            }
        }
        return new Readiness(reasons.isEmpty(), reasons);
    }

    private static boolean hasKey(KeymuxConfig config, TaskConfig task) {
        for (ApiKeyConfig key : config.apiKeys()) {
            if (key.taskTypes().contains(task.name())) {
                return true;
            }
            for (String fallback : task.fallback()) {
                if (key.taskTypes().contains(fallback)) {
                    return true;
                }
            }
        }
        return false;
    }
}
