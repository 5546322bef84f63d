package io.keymux.core.select;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.core.ratelimit.ClientGate;
import io.keymux.core.time.TimeSource;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Chooses a key for each attempt, within every limit, for one configuration. Thread-safe and
 * non-blocking: {@link #acquire} never blocks the caller; when no key has capacity it returns a
 * future that completes once one does, or with a {@link Rejection} at the task's {@code max_wait}.
 *
 * <pre>{@code
 * broker.acquire(new KeyRequest("diagnosis", "backend", 1200, Set.of()))
 *       .thenAccept(admission -> ...);
 * }</pre>
 */
public interface KeyBroker extends AutoCloseable {

    /**
     * Leases a key for the request. The future never completes exceptionally. Cancelling it leaves
     * the queue; a lease granted concurrently with the cancellation is settled as cancelled.
     */
    CompletableFuture<Admission> acquire(KeyRequest request);

    /** Stops timers; pending waiters are rejected. */
    @Override
    void close();

    /** A read-only snapshot of every key, in config order, for {@code /admin/keys}. */
    default List<KeyStatus> keyStates() {
        return List.of();
    }

    /**
     * {@code POST /admin/keys/{key_id}/enable}: clears {@code disabled}, {@code quota_exhausted}, an
     * open circuit and a cooldown on {@code keyId} (with a shared backend, on every replica).
     * Completes with {@code false} when no such key is configured; never exceptionally.
     */
    default CompletableFuture<Boolean> enable(String keyId) {
        return CompletableFuture.completedFuture(false);
    }

    /**
     * Replicas sharing this broker's key state (those alive in the last 30 s, this one included),
     * for {@code /admin/health}; 1 for a broker that shares nothing.
     */
    default int liveReplicas() {
        return 1;
    }

    /** Task distribution and per-client cost, for {@code /admin/metrics}. */
    default BrokerMetrics metrics() {
        return BrokerMetrics.empty();
    }

    /** The per-client limits of this configuration, fed with each settled attempt's cost. */
    default ClientGate clients() {
        return ClientGate.create(List.of(), TimeSource.system());
    }

    /**
     * Swaps in a new configuration. Keys whose {@code key_id} stays keep their buckets
     * (proportionally to new limits), health, spend and counters; leases in flight settle normally.
     */
    default void reconfigure(KeymuxConfig next) {
        throw new UnsupportedOperationException("reconfigure");
    }

    /** The broker for a configuration, with its own daemon timer thread (stopped by {@link #close}). */
    static KeyBroker create(KeymuxConfig config, TimeSource time) {
        return new BrokerEngine(config, time, BrokerTimer.daemon());
    }
}
