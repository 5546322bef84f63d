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

    /** A client by name with neither key set yet, every limit unset and every task allowed. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builds a {@link ClientConfig} by name. */
    public static final class Builder {
        private final String name;
        private @Nullable Secret key;
        private @Nullable String keySha256;
        private @Nullable Set<String> allowedTasks;
        private @Nullable Long maxRpm;
        private @Nullable Double dailyBudgetUsd;

        private Builder(String name) {
            this.name = name;
        }

        public Builder key(@Nullable Secret key) {
            this.key = key;
            return this;
        }

        /** Lowercase hex SHA-256 of the client key. */
        public Builder keySha256(@Nullable String keySha256) {
            this.keySha256 = keySha256;
            return this;
        }

        /** {@code null}: every task. */
        public Builder allowedTasks(@Nullable Set<String> allowedTasks) {
            this.allowedTasks = allowedTasks;
            return this;
        }

        public Builder maxRpm(@Nullable Long maxRpm) {
            this.maxRpm = maxRpm;
            return this;
        }

        public Builder dailyBudgetUsd(@Nullable Double dailyBudgetUsd) {
            this.dailyBudgetUsd = dailyBudgetUsd;
            return this;
        }

        public ClientConfig build() {
            return new ClientConfig(name, key, keySha256, allowedTasks, maxRpm, dailyBudgetUsd);
        }
    }
}
