package io.keymux.server.cli;

import java.util.concurrent.CountDownLatch;

/**
 * SIGTERM and SIGINT, caught from the moment {@code serve} starts. Installed before the server
 * starts (its warm-up takes seconds), so a signal that arrives meanwhile is remembered and leads to
 * the same drain and exit 0 as one that arrives while serving, instead of the JVM's default exit 143.
 *
 * <pre>{@code
 * ShutdownSignal signal = ShutdownSignal.install();
 * try (KeymuxServer server = builder.start()) { signal.await(); server.drain(timeout); }
 * }</pre>
 */
final class ShutdownSignal {
    private final CountDownLatch received = new CountDownLatch(1);

    private ShutdownSignal() {}

    /** Replaces the JVM's handlers of TERM and INT with one that only records the signal. */
    static ShutdownSignal install() {
        ShutdownSignal signal = new ShutdownSignal();
        // sun.misc.Signal (module jdk.unsupported, kept for this use): a shutdown hook could not make
        // the JVM exit 0 after SIGTERM, and SPEC.md section 1 wants exit 0 after the drain.
        sun.misc.SignalHandler handler = s -> signal.received.countDown();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), handler);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), handler);
        return signal;
    }

    /** Waits for the signal (returns at once when it came already). */
    void await() throws InterruptedException {
        received.await();
    }
}
