package io.keymux.core.select;

import io.keymux.config.model.AdminConfig;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Builders for test configurations. */
final class Configs {
    private Configs() {}

    static KeymuxConfig config(List<TaskConfig> tasks, List<ApiKeyConfig> keys) {
        return config(tasks, keys, List.of());
    }

    static KeymuxConfig config(List<TaskConfig> tasks, List<ApiKeyConfig> keys, List<ClientConfig> clients) {
        return new KeymuxConfig(ServerConfig.defaults(), HealthConfig.defaults(), new AdminConfig(null),
                LimitsConfig.defaults(), Map.of(), "openai", null, tasks, keys, clients);
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
            health = new HealthConfig(threshold, circuitCooldown, rateLimitCooldown);
            return this;
        }

        TaskConfig build() {
            TaskConfig d = TaskConfig.withDefaults(name, health);
            return new TaskConfig(name, priority, strategy, null, null, fallback, maxWait, d.maxAttempts(),
                    d.retryOn(), d.timeouts(), d.cache(), health);
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
            return new ApiKeyConfig(id, Secret.of(secret), "openai", tasks, rpm, tpm, rpmBurst, null, concurrent,
                    priority, weight, null, costIn, costOut, budget);
        }
    }
}
