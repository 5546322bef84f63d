package io.keymux.config.testing;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits, bounded, for a condition that another thread makes true: polls it every 10 ms (or at the
 * interval given) instead of spinning a core, and fails with what was awaited once the timeout
 * passes. Shared by every module's tests through proxy-config's test-jar.
 *
 * <pre>{@code
 * Await.until("nothing in flight", () -> state().usage().inFlight() == 0, Duration.ofSeconds(10));
 * // A condition that is dear to check (a process's output, an HTTP probe) is polled less often:
 * Await.until("the container to answer /readyz", () -> status(url) == 200, WAIT, Duration.ofMillis(50));
 * }</pre>
 */
public final class Await {

    /** How long between two polls unless the caller says otherwise. */
    public static final Duration POLL = Duration.ofMillis(10);

    private Await() {}

    /** Returns once {@code condition} holds; throws {@link AssertionError} after {@code timeout}. */
    public static void until(BooleanSupplier condition, Duration timeout) {
        until("condition", condition, timeout);
    }

    /** As {@link #until(BooleanSupplier, Duration)}, naming what was awaited in the failure. */
    public static void until(String what, BooleanSupplier condition, Duration timeout) {
        until(() -> what, condition, timeout);
    }

    /** As {@link #until(BooleanSupplier, Duration)}; the failure message is computed at timeout (e.g. the last value seen). */
    public static void until(Supplier<String> what, BooleanSupplier condition, Duration timeout) {
        until(what, condition, timeout, POLL);
    }

    /**
     * As {@link #until(String, BooleanSupplier, Duration)}, polling every {@code pollInterval}: for a
     * condition too dear to check every 10 ms, such as a process's output or a request to a server.
     */
    public static void until(String what, BooleanSupplier condition, Duration timeout, Duration pollInterval) {
        until(() -> what, condition, timeout, pollInterval);
    }

    /** As {@link #until(Supplier, BooleanSupplier, Duration)}, polling every {@code pollInterval} (> 0). */
    public static void until(Supplier<String> what, BooleanSupplier condition, Duration timeout, Duration pollInterval) {
        if (pollInterval.isNegative() || pollInterval.isZero()) {
            throw new IllegalArgumentException("pollInterval: " + pollInterval + " (expected: > 0)");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what.get());
            }
            LockSupport.parkNanos(Math.min(left, pollInterval.toNanos()));
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what.get());
            }
        }
    }

    /** The time unit-free form some call sites have at hand. */
    public static void until(BooleanSupplier condition, long timeout, TimeUnit unit) {
        until(condition, Duration.ofNanos(unit.toNanos(timeout)));
    }
}
