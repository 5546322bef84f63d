package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** Builders for test configurations. */
final class Configs {
    private Configs() {}

    static KeymuxConfig config(List<TaskConfig> tasks, List<ApiKeyConfig> keys) {
        return config(tasks, keys, List.of());
    }

    static KeymuxConfig config(List<TaskConfig> tasks, List<ApiKeyConfig> keys, List<ClientConfig> clients) {
        return KeymuxConfig.builder().tasks(tasks).apiKeys(keys).clients(clients).build();
    }

    static TaskBuilder task(String name) {
        return new TaskBuilder(name);
    }

    static KeyBuilder key(String id, String... tasks) {
        return new KeyBuilder(id, List.of(tasks));
    }

    static final class TaskBuilder {
        private final String name;
        private int priority;
        private Strategy strategy = Strategy.ROUND_ROBIN;
        private List<String> fallback = List.of();
        private Duration maxWait = Duration.ZERO;
        private HealthConfig health = HealthConfig.defaults();

        TaskBuilder(String name) {
            this.name = name;
        }

        TaskBuilder priority(int p) {
            priority = p;
            return this;
        }

        TaskBuilder strategy(Strategy s) {
            strategy = s;
            return this;
        }

        TaskBuilder fallback(String... tasks) {
            fallback = List.of(tasks);
            return this;
        }

        TaskBuilder maxWait(Duration d) {
            maxWait = d;
            return this;
        }

        TaskBuilder health(int threshold, Duration circuitCooldown, Duration rateLimitCooldown) {
            health = HealthConfig.builder().failureThreshold(threshold).circuitCooldown(circuitCooldown)
                    .rateLimitCooldown(rateLimitCooldown).build();
            return this;
        }

        /** The task's health with {@code health.disabled_probe} set ({@code null}: {@code off}). */
        TaskBuilder disabledProbe(@org.jspecify.annotations.Nullable Duration every) {
            health = health.toBuilder().disabledProbe(every).build();
            return this;
        }

        TaskConfig build() {
            return TaskConfig.builder(name).priority(priority).strategy(strategy).fallback(fallback).maxWait(maxWait)
                    .health(health).build();
        }
    }

    static final class KeyBuilder {
        private final String id;
        private final List<String> tasks;
        private @Nullable Long rpm;
        private @Nullable Long tpm;
        private @Nullable Long rpmBurst;
        private @Nullable Integer concurrent;
        private int priority;
        private int weight = 1;
        private @Nullable Double costIn;
        private @Nullable Double costOut;
        private @Nullable Double budget;
        private String secret = "sk-test-secret";

        KeyBuilder(String id, List<String> tasks) {
            this.id = id;
            this.tasks = tasks;
        }

        KeyBuilder rpm(long v) {
            rpm = v;
            return this;
        }

        KeyBuilder rpmBurst(long v) {
            rpmBurst = v;
            return this;
        }

        KeyBuilder tpm(long v) {
            tpm = v;
            return this;
        }

        KeyBuilder concurrent(int v) {
            concurrent = v;
            return this;
        }

        KeyBuilder priority(int v) {
            priority = v;
            return this;
        }

        KeyBuilder weight(int v) {
            weight = v;
            return this;
        }

        KeyBuilder cost(double in, double out) {
            costIn = in;
            costOut = out;
            return this;
        }

        KeyBuilder budget(double usd) {
            budget = usd;
            return this;
        }

        KeyBuilder secret(String s) {
            secret = s;
            return this;
        }

        ApiKeyConfig build() {
            return ApiKeyConfig.builder(id, Secret.of(secret)).taskTypes(tasks).maxRpm(rpm).maxTpm(tpm)
                    .rpmBurst(rpmBurst).maxConcurrent(concurrent).priority(priority).weight(weight)
                    .costPerInputToken(costIn).costPerOutputToken(costOut).dailyBudgetUsd(budget).build();
        }
    }
}
