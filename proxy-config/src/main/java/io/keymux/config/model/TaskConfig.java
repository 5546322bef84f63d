package io.keymux.config.model;

import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A task type: a class of requests with its own key pool, priority and failover policy.
 *
 * @param priority higher is served first when keys are scarce
 * @param upstream the task's upstream, or {@code null} for {@code default_upstream}
 * @param match the rule that selects this task, or {@code null} (header or path prefix only)
 * @param fallback tasks whose keys are tried after this task's own, in order
 * @param maxWait how long a request may queue for capacity
 * @param health outlier detection, the top-level defaults merged with this task's overrides
 */
public record TaskConfig(
        String name,
        int priority,
        Strategy strategy,
        @Nullable String upstream,
        @Nullable MatchRule match,
        List<String> fallback,
        Duration maxWait,
        int maxAttempts,
        RetryPolicy retryOn,
        Timeouts timeouts,
        CacheConfig cache,
        HealthConfig health) {

    public static final Duration DEFAULT_MAX_WAIT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_ATTEMPTS = 3;

    public TaskConfig {
        fallback = List.copyOf(fallback);
    }

    /** A task with every default, as derived from a seed-format key's {@code task_types}. */
    public static TaskConfig withDefaults(String name, HealthConfig health) {
        return new TaskConfig(
                name,
                0,
                Strategy.ROUND_ROBIN,
                null,
                null,
                List.of(),
                DEFAULT_MAX_WAIT,
                DEFAULT_MAX_ATTEMPTS,
                RetryPolicy.defaults(),
                Timeouts.defaults(),
                CacheConfig.disabled(),
                health);
    }
}
