package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Interim broker: round robin over a task's keys, then its fallback tasks' keys, then {@code "*"}
 * keys, with no limits. Replaced by the limit-aware engine.
 */
final class RoundRobinBroker implements KeyBroker {
    private final Map<String, List<ApiKeyConfig>> candidatesByTask = new HashMap<>();
    private final Map<String, AtomicInteger> cursors = new HashMap<>();

    RoundRobinBroker(KeymuxConfig config) {
        for (TaskConfig task : config.tasks()) {
            LinkedHashSet<ApiKeyConfig> ordered = new LinkedHashSet<>(keysOf(config, task.name()));
            for (String fallback : task.fallback()) {
                ordered.addAll(keysOf(config, fallback));
            }
            for (ApiKeyConfig key : config.apiKeys()) {
                if (key.servesAnyTask()) {
                    ordered.add(key);
                }
            }
            candidatesByTask.put(task.name(), List.copyOf(ordered));
            cursors.put(task.name(), new AtomicInteger());
        }
    }

    private static List<ApiKeyConfig> keysOf(KeymuxConfig config, String task) {
        List<ApiKeyConfig> keys = new ArrayList<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            if (key.taskTypes().contains(task)) {
                keys.add(key);
            }
        }
        return keys;
    }

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        List<ApiKeyConfig> candidates = candidatesByTask.getOrDefault(request.task(), List.of());
        List<ApiKeyConfig> untried = new ArrayList<>(candidates.size());
        for (ApiKeyConfig key : candidates) {
            if (!request.excludedKeyIds().contains(key.keyId())) {
                untried.add(key);
            }
        }
        if (untried.isEmpty()) {
            return CompletableFuture.completedFuture(new Rejection(
                    Rejection.Reason.NO_UNTRIED_KEY, Duration.ofSeconds(1),
                    "no untried key left for task '" + request.task() + "'"));
        }
        int index = Math.floorMod(cursors.get(request.task()).getAndIncrement(), untried.size());
        return CompletableFuture.completedFuture(new SimpleLease(untried.get(index)));
    }

    @Override
    public void close() {}

    private record SimpleLease(ApiKeyConfig key) implements Lease {
        @Override
        public long reservedTokens() {
            return 0;
        }

        @Override
        public long queuedNanos() {
            return 0;
        }

        @Override
        public void settle(Outcome outcome) {}
    }
}
