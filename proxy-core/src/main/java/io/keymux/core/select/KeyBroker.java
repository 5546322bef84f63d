package io.keymux.core.select;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.core.time.TimeSource;
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

    /** The broker for a configuration. */
    static KeyBroker create(KeymuxConfig config, TimeSource time) {
        return new RoundRobinBroker(config);
    }
}
