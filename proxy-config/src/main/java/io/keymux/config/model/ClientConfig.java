package io.keymux.config.model;

import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A caller of the proxy (a virtual key). Exactly one of {@code key} and {@code keySha256} is set.
 *
 * @param keySha256 lowercase hex SHA-256 of the client key, so the plain key need not sit in config
 * @param allowedTasks tasks this client may use, or {@code null} for all
 */
public record ClientConfig(
        String name,
        @Nullable Secret key,
        @Nullable String keySha256,
        @Nullable Set<String> allowedTasks,
        @Nullable Long maxRpm,
        @Nullable Double dailyBudgetUsd) {

    public ClientConfig {
        allowedTasks = allowedTasks == null ? null : Set.copyOf(allowedTasks);
    }

    /** Whether this client may use the task. */
    public boolean mayUse(String task) {
        return allowedTasks == null || allowedTasks.contains(task);
    }
}
