package io.keymux.config.testing;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits, bounded, for a condition that another thread makes true: polls it every 10 ms instead of
 * spinning a core, and fails with what was awaited once the timeout passes. Shared by every module's
 * tests through proxy-config's test-jar.
 *
 * <pre>{@code
 * Await.until("nothing in flight", () -> state().usage().inFlight() == 0, Duration.ofSeconds(10));
 * }</pre>
 */
public final class Await {

    /** How long between two polls. */
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
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what.get());
            }
            LockSupport.parkNanos(Math.min(left, POLL.toNanos()));
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
