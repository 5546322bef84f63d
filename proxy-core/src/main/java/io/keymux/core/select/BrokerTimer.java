package io.keymux.core.select;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The broker's single timer: wake-ups when capacity returns and {@code max_wait} expiries. One daemon
 * thread for the whole broker, never one per waiter. Tests substitute a manual timer driven by a fake
 * clock.
 */
interface BrokerTimer extends AutoCloseable {

    /** Runs {@code task} after {@code delayNanos}; the returned action cancels it. */
    Runnable schedule(Runnable task, long delayNanos);

    @Override
    void close();

    /** A timer backed by one daemon thread. */
    static BrokerTimer daemon() {
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "keymux-broker-timer");
            thread.setDaemon(true);
            return thread;
        });
        executor.setRemoveOnCancelPolicy(true);
        return new ExecutorTimer(executor);
    }

    /** {@link BrokerTimer} over a {@link ScheduledExecutorService}. */
    record ExecutorTimer(ScheduledExecutorService executor) implements BrokerTimer {
        @Override
        public Runnable schedule(Runnable task, long delayNanos) {
            ScheduledFuture<?> future = executor.schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
            return () -> future.cancel(false);
        }

        @Override
        public void close() {
            executor.shutdownNow();
        }
    }

}
