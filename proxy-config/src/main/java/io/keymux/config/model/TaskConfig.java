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
 * @param promptAffinity whether requests with the same stable prompt prefix prefer the same key
 *     (SPEC.md section 3.9)
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
        boolean promptAffinity,
        HealthConfig health) {

    public static final Duration DEFAULT_MAX_WAIT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_ATTEMPTS = 3;

    public TaskConfig {
        fallback = List.copyOf(fallback);
    }

    /** A task with every default, as derived from a seed-format key's {@code task_types}. */
    public static TaskConfig withDefaults(String name, HealthConfig health) {
        return builder(name).health(health).build();
    }

    /**
     * A task by name, every other setting at its default: priority 0, round robin, the default
     * upstream, no match rule, no fallback, {@code max_wait} 10s, 3 attempts, the default
     * {@code retry_on}, timeouts, no cache and the default health settings.
     */
    public static Builder builder(String name) {
        Builder b = new Builder();
        b.name = name;
        return b;
    }

    /** A builder holding these settings, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.priority = priority;
        b.strategy = strategy;
        b.upstream = upstream;
        b.match = match;
        b.fallback = fallback;
        b.maxWait = maxWait;
        b.maxAttempts = maxAttempts;
        b.retryOn = retryOn;
        b.timeouts = timeouts;
        b.cache = cache;
        b.promptAffinity = promptAffinity;
        b.health = health;
        return b;
    }

    /** Builds a {@link TaskConfig} by name; the defaults are those of SPEC.md section 2. */
    public static final class Builder {
        private String name = "";
        private int priority;
        private Strategy strategy = Strategy.ROUND_ROBIN;
        private @Nullable String upstream;
        private @Nullable MatchRule match;
        private List<String> fallback = List.of();
        private Duration maxWait = DEFAULT_MAX_WAIT;
        private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
        private RetryPolicy retryOn = RetryPolicy.defaults();
        private Timeouts timeouts = Timeouts.defaults();
        private CacheConfig cache = CacheConfig.disabled();
        private boolean promptAffinity;
        private HealthConfig health = HealthConfig.defaults();

        private Builder() {}

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder priority(int priority) {
            this.priority = priority;
            return this;
        }

        public Builder strategy(Strategy strategy) {
            this.strategy = strategy;
            return this;
        }

        /** {@code null}: {@code default_upstream}. */
        public Builder upstream(@Nullable String upstream) {
            this.upstream = upstream;
            return this;
        }

        public Builder match(@Nullable MatchRule match) {
            this.match = match;
            return this;
        }

        public Builder fallback(List<String> fallback) {
            this.fallback = fallback;
            return this;
        }

        public Builder maxWait(Duration maxWait) {
            this.maxWait = maxWait;
            return this;
        }

        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        public Builder retryOn(RetryPolicy retryOn) {
            this.retryOn = retryOn;
            return this;
        }

        public Builder timeouts(Timeouts timeouts) {
            this.timeouts = timeouts;
            return this;
        }

        public Builder cache(CacheConfig cache) {
            this.cache = cache;
            return this;
        }

        /** {@code prompt_affinity: on}. */
        public Builder promptAffinity(boolean promptAffinity) {
            this.promptAffinity = promptAffinity;
            return this;
        }

        public Builder health(HealthConfig health) {
            this.health = health;
            return this;
        }

        public Builder fallback(String... fallback) {
            this.fallback = List.of(fallback);
            return this;
        }

        public TaskConfig build() {
            return new TaskConfig(name, priority, strategy, upstream, match, fallback, maxWait, maxAttempts, retryOn, timeouts, cache,
                    promptAffinity, health);
        }
    }
}
