package io.keymux.server.pipeline;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts requests in flight so a drain can wait for them; once draining, answers close their connection. */
public final class InFlight {
    private final AtomicInteger count = new AtomicInteger();
    private final CompletableFuture<Void> idle = new CompletableFuture<>();
    private volatile boolean draining;

    void enter() {
        count.incrementAndGet();
    }

    void exit() {
        if (count.decrementAndGet() == 0 && draining) {
            idle.complete(null);
        }
    }

    /** Requests currently being served. */
    public int count() {
        return count.get();
    }

    /** Whether a drain has started. */
    public boolean draining() {
        return draining;
    }

    /** Starts draining; the future completes when no request is in flight. */
    public CompletableFuture<Void> drain() {
        draining = true;
        if (count.get() == 0) {
            idle.complete(null);
        }
        return idle;
    }
}
