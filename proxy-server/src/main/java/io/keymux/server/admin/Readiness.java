package io.keymux.server.admin;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.select.KeyStatus;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code /readyz} decision (SPEC.md section 5): {@code unready} (503) while draining, while a
 * component does not serve yet (the proxy port during the warm-up) or when a task has no key that
 * is not {@code disabled} (its own, a fallback task's or a {@code "*"} key);
 * cooldowns, open circuits and spent budgets pass, since they heal by themselves. Otherwise
 * {@code degraded} (200) when a component reported trouble, else {@code ready}.
 *
 * @param status {@code ready}, {@code degraded} or {@code unready}
 * @param reasons why not ready, for operators; empty when ready
 */
public record Readiness(String status, List<String> reasons) {

    /** Serving normally: 200. */
    public static final String READY = "ready";
    /** Serving, but a component reported trouble (say, Redis unreachable): still 200. */
    public static final String DEGRADED = "degraded";
    /** Draining, or a task has no usable key: 503. */
    public static final String UNREADY = "unready";

    public Readiness {
        Objects.requireNonNull(status, "status");
        reasons = List.copyOf(reasons);
    }

    /** Whether to answer 200. */
    public boolean ready() {
        return !status.equals(UNREADY);
    }

    /**
     * Evaluates readiness now.
     *
     * @param keys the broker's key states; a key missing from them counts as usable
     * @param unready reasons from {@link ReadinessSignals#unreadyReasons()}
     * @param degraded reasons from {@link ReadinessSignals#degradedReasons()}
     */
    public static Readiness of(KeymuxConfig config, List<KeyStatus> keys, boolean draining, List<String> unready,
            List<String> degraded) {
        Objects.requireNonNull(config, "config");
        List<String> reasons = new ArrayList<>();
        if (draining) {
            reasons.add("draining: the server is shutting down");
        }
        reasons.addAll(unready);
        Map<String, KeyStatus.State> states = new HashMap<>();
        for (KeyStatus k : keys) {
            states.put(k.keyId(), k.state());
        }
        for (TaskConfig task : config.tasks()) {
            List<ApiKeyConfig> pool = pool(config, task);
            if (pool.isEmpty()) {
                reasons.add("task '" + task.name() + "' has no api key (api_keys[].task_types)");
            } else if (pool.stream().allMatch(k -> states.get(k.keyId()) == KeyStatus.State.DISABLED)) {
                reasons.add("task '" + task.name() + "': every key is disabled after an upstream 401/403;"
                        + " fix or rotate the keys in the config");
            }
        }
        if (!reasons.isEmpty()) {
            return new Readiness(UNREADY, reasons);
        }
        return degraded.isEmpty() ? new Readiness(READY, List.of()) : new Readiness(DEGRADED, degraded);
    }

    /** The keys a task may use: its own, its fallback tasks', and {@code "*"} keys. */
    private static List<ApiKeyConfig> pool(KeymuxConfig config, TaskConfig task) {
        List<ApiKeyConfig> pool = new ArrayList<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            boolean serves = key.servesAnyTask() || key.taskTypes().contains(task.name())
                    || task.fallback().stream().anyMatch(key.taskTypes()::contains);
            if (serves) {
                pool.add(key);
            }
        }
        return pool;
    }
}
