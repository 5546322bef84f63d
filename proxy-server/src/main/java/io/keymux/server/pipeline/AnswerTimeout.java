package io.keymux.server.pipeline;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The one timeout of an upstream attempt: a single task on its connection's event loop, armed for
 * {@code first_byte} when the request is sent and again when the head arrives, then {@code idle}
 * between chunks. A chunk only moves the deadline; the task, firing before it, re-arms itself for
 * what is left, so nothing is rescheduled per chunk. While reading is paused because the client is
 * slow, the upstream's silence is keymux's doing: the deadline keeps moving, and starts afresh on
 * resume. As Netty's {@code ReadTimeoutHandler}, it only says that time is up; the attempt fails the
 * exchange.
 *
 * <p>Not thread-safe: used on its loop only.
 */
final class AnswerTimeout {
    private final EventLoop loop;
    private final long idleNanos;
    private final Runnable expired;

    private @Nullable ScheduledFuture<?> timer;
    /** When {@link #timer} fires, {@link System#nanoTime()}. */
    private long timerAt;
    /** When the upstream's time is up, {@link System#nanoTime()}. */
    private long deadline;
    private boolean stopped;
    /** Reading is paused for a slow client: the deadline does not run. */
    private boolean paused;

    /**
     * @param idle the time allowed between chunks
     * @param expired what to do when the upstream sent nothing in time (runs on {@code loop})
     */
    AnswerTimeout(EventLoop loop, Duration idle, Runnable expired) {
        this.loop = loop;
        this.idleNanos = Math.max(1, idle.toNanos());
        this.expired = expired;
    }

    /** From now, the upstream has {@code timeout} to send something. */
    void after(Duration timeout) {
        if (stopped) {
            return;
        }
        long nanos = Math.max(1, timeout.toNanos());
        deadline = System.nanoTime() + nanos;
        ScheduledFuture<?> pending = timer;
        if (pending == null || timerAt - deadline > 0) {
            // No timer yet, or it would fire too late: (re)schedule. Otherwise it re-arms itself.
            if (pending != null) {
                pending.cancel(false);
            }
            timerAt = deadline;
            timer = loop.schedule(this::fire, nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** A chunk arrived: the upstream has one idle timeout from now. */
    void chunkArrived() {
        deadline = System.nanoTime() + idleNanos;
    }

    /** Reading from the upstream is paused because the client is slow. */
    void pause() {
        paused = true;
    }

    /** Reading goes on: the idle timeout starts afresh. */
    void resume() {
        if (paused) {
            paused = false;
            deadline = System.nanoTime() + idleNanos;
        }
    }

    /** No more timeouts: the answer is in, or the attempt is over. */
    void stop() {
        stopped = true;
        ScheduledFuture<?> pending = timer;
        if (pending != null) {
            pending.cancel(false);
            timer = null;
        }
    }

    private void fire() {
        timer = null;
        if (stopped) {
            return;
        }
        if (paused) {
            // The client is not reading, so neither is keymux: not the upstream's stall.
            deadline = System.nanoTime() + idleNanos;
        }
        long left = deadline - System.nanoTime();
        if (left > 0) {
            timerAt = deadline;
            timer = loop.schedule(this::fire, left, TimeUnit.NANOSECONDS);
            return;
        }
        expired.run();
    }
}
