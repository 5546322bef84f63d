package io.keymux.core.select;

import java.time.Duration;
import java.util.PriorityQueue;

/** A {@link BrokerTimer} that runs tasks only when the test advances its {@link FakeTime}. */
final class ManualTimer implements BrokerTimer {
    private final FakeTime time;
    private final PriorityQueue<Task> tasks = new PriorityQueue<>();
    private long sequence;
    boolean closed;

    private final class Task implements Comparable<Task> {
        final long due;
        final long seq;
        final Runnable action;
        boolean cancelled;

        Task(long due, long seq, Runnable action) {
            this.due = due;
            this.seq = seq;
            this.action = action;
        }

        @Override
        public int compareTo(Task o) {
            int c = Long.compare(due, o.due);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    ManualTimer(FakeTime time) {
        this.time = time;
    }

    @Override
    public synchronized Runnable schedule(Runnable action, long delayNanos) {
        Task task = new Task(time.nanoTime() + Math.max(0, delayNanos), sequence++, action);
        tasks.add(task);
        return () -> {
            synchronized (ManualTimer.this) {
                task.cancelled = true;
                tasks.remove(task);
            }
        };
    }

    /** Moves time forward, running every task that falls due on the way at its due time. */
    void advance(Duration d) {
        long target = time.nanoTime() + d.toNanos();
        while (true) {
            Task next;
            synchronized (this) {
                next = tasks.peek();
                if (next == null || next.due > target) {
                    break;
                }
                tasks.poll();
            }
            if (next.due > time.nanoTime()) {
                time.advanceNanos(next.due - time.nanoTime());
            }
            if (!next.cancelled) {
                next.action.run();
            }
        }
        time.advanceNanos(target - time.nanoTime());
    }

    synchronized int pending() {
        return tasks.size();
    }

    @Override
    public synchronized void close() {
        closed = true;
        tasks.clear();
    }
}
