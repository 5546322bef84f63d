package io.keymux.server.guard;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.select.Admission;
import io.keymux.core.select.ForwardingKeyBroker;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Rejection;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link KeyBroker} in front of another that bounds how many requests of one task may wait for a
 * key at once, so a flood turns into 429 {@code all_keys_exhausted} (with {@code Retry-After}) instead
 * of an unbounded queue and, eventually, an {@code OutOfMemoryError}. The task's {@code max_wait}
 * still bounds how long each may wait.
 *
 * <p>The bound per task is {@value #CAPACITY_FACTOR} × the sum of {@code max_concurrent} of the keys
 * that serve it (its own, its fallback tasks' and {@code "*"} keys) when every one of them sets it,
 * otherwise, and at most, {@value #MAX_PENDING_PER_TASK}. "Waiting" means an acquire whose future has
 * not completed yet; immediate grants pass straight through.
 */
public final class QueueLimitedBroker extends ForwardingKeyBroker {
    /** Waiting requests allowed per unit of the task's keys' concurrency. */
    public static final int CAPACITY_FACTOR = 10;
    /** The bound for tasks whose keys set no {@code max_concurrent}, and the most any task gets. */
    public static final int MAX_PENDING_PER_TASK = 10_000;
    /** {@code Retry-After} of a request refused because the queue is full. */
    static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    private final ConcurrentHashMap<String, AtomicInteger> pending = new ConcurrentHashMap<>();
    private volatile Map<String, Integer> limits;

    /** Wraps {@code delegate} with the bounds of {@code config}. */
    public QueueLimitedBroker(KeyBroker delegate, KeymuxConfig config) {
        super(delegate);
        this.limits = limits(Objects.requireNonNull(config, "config"));
    }

    /** The per-task bounds of a configuration. */
    static Map<String, Integer> limits(KeymuxConfig config) {
        Map<String, Integer> limits = new HashMap<>();
        for (TaskConfig task : config.tasks()) {
            long concurrency = 0;
            boolean bounded = true;
            for (ApiKeyConfig key : config.apiKeys()) {
                boolean serves = key.servesAnyTask() || key.taskTypes().contains(task.name())
                        || task.fallback().stream().anyMatch(key.taskTypes()::contains);
                if (!serves) {
                    continue;
                }
                Integer max = key.maxConcurrent();
                if (max == null) {
                    bounded = false;
                    break;
                }
                concurrency += max;
            }
            long limit = bounded && concurrency > 0 ? Math.min(MAX_PENDING_PER_TASK, concurrency * CAPACITY_FACTOR)
                    : MAX_PENDING_PER_TASK;
            limits.put(task.name(), (int) limit);
        }
        return Map.copyOf(limits);
    }

    /** The bound for a task (tasks unknown to the config get {@link #MAX_PENDING_PER_TASK}). */
    public int limit(String task) {
        return limits.getOrDefault(task, MAX_PENDING_PER_TASK);
    }

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        AtomicInteger waiting = pending.computeIfAbsent(request.task(), t -> new AtomicInteger());
        int limit = limit(request.task());
        if (waiting.incrementAndGet() > limit) {
            waiting.decrementAndGet();
            return CompletableFuture.completedFuture(new Rejection(Rejection.Reason.RATE_LIMITED, RETRY_AFTER,
                    "too many requests are waiting for a key of task '" + request.task() + "' (" + limit
                            + "); retry after " + RETRY_AFTER.toSeconds() + " s"));
        }
        CompletableFuture<Admission> admission;
        try {
            admission = delegate.acquire(request);
        } catch (RuntimeException e) {
            waiting.decrementAndGet();
            throw e;
        }
        // Cancellation (client gone) completes the future too, so every path gives the slot back.
        admission.whenComplete((a, failure) -> waiting.decrementAndGet());
        return admission;
    }

    @Override
    public void reconfigure(KeymuxConfig next) {
        delegate.reconfigure(next);
        limits = limits(next);
    }
}
