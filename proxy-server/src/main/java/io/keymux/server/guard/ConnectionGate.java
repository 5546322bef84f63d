package io.keymux.server.guard;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts open connections of one listener against {@code server.max_connections}. Every accepted
 * connection is counted, so {@link #admit()} and {@link #release()} pair up one to one; connections
 * beyond the cap stay open only long enough to be answered 503 (or closed by the header timeout).
 */
public final class ConnectionGate {
    private final int max;
    private final AtomicInteger open = new AtomicInteger();

    /** A gate for at most {@code max} connections served at once. */
    public ConnectionGate(int max) {
        if (max <= 0) {
            throw new IllegalArgumentException("max: " + max + " (expected: > 0)");
        }
        this.max = max;
    }

    /** Counts a new connection; whether it is within the cap. */
    public boolean admit() {
        return open.incrementAndGet() <= max;
    }

    /** A counted connection closed. */
    public void release() {
        open.decrementAndGet();
    }

    /** Connections open now, over the cap included. */
    public int open() {
        return open.get();
    }

    /** The cap. */
    public int max() {
        return max;
    }
}
