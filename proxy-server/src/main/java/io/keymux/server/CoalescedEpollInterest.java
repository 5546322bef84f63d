package io.keymux.server;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.ThreadAwareExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * Netty's epoll loop with each channel's interest set handed to the kernel once per loop
 * iteration, instead of one {@code epoll_ctl} per change.
 *
 * <p>Why: Reactor Netty's HTTP server turns auto-read off when a request's operations are created
 * and on again once its body is read, which for a small request happens within the same read
 * event. On epoll each turn is an {@code epoll_ctl(MOD)} at once: two syscalls per request that
 * end where they started (bench/dataplane.sh counted 2.0 per request, ~7% of keymux's CPU). Here a
 * change made on the loop thread is noted and applied when the loop is about to wait again (before
 * and after each {@code epoll_wait} pass), and only if the set then differs from what the kernel
 * holds; io_uring batches the same way by design, and so does the JDK's selector.
 *
 * <p>Why it is safe: the kernel only reports readiness during {@code epoll_wait}, and every noted
 * change is applied before the next one, so no wait ever runs with an interest set the channel did
 * not ask for. A channel that turns reading off and on again within one iteration never leaves
 * the kernel's set, and Netty's epoll channels do not rely on a re-arming {@code MOD} to learn of
 * unread data (a read turned back on schedules its own read when the last one filled its buffer).
 * The first registration, a removal ({@link EpollIoOps#NONE}) and a change from another thread go
 * to the kernel at once, as before.
 */
final class CoalescedEpollInterest implements IoHandler {
    /** Interest changes that reached the kernel, over every loop: read by tests and benchmarks. */
    private static final LongAdder APPLIED = new LongAdder();

    private final IoHandler epoll;
    private final ThreadAwareExecutor loop;
    /** Registrations with a change not yet applied; touched by the loop thread only. */
    private final List<Registration> changed = new ArrayList<>();

    private CoalescedEpollInterest(IoHandler epoll, ThreadAwareExecutor loop) {
        this.epoll = epoll;
        this.loop = loop;
    }

    /** Epoll loops whose interest changes are applied once per iteration. */
    static IoHandlerFactory factory() {
        IoHandlerFactory epoll = EpollIoHandler.newFactory();
        return executor -> new CoalescedEpollInterest(epoll.newHandler(executor), executor);
    }

    /** How many interest changes reached the kernel since the process started, over every loop. */
    static long appliedChanges() {
        return APPLIED.sum();
    }

    @Override
    public void initialize() {
        epoll.initialize();
    }

    @Override
    public int run(IoHandlerContext context) {
        applyChanges(); // those the tasks made since the last pass, before the wait
        int handled = epoll.run(context);
        applyChanges(); // those the ready channels made, before the loop runs its tasks
        return handled;
    }

    @Override
    public void prepareToDestroy() {
        applyChanges();
        epoll.prepareToDestroy();
    }

    @Override
    public void destroy() {
        epoll.destroy();
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return new Registration(epoll.register(handle));
    }

    @Override
    public void wakeup() {
        epoll.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return epoll.isCompatible(handleType);
    }

    private void applyChanges() {
        if (changed.isEmpty()) {
            return;
        }
        // A change applied here may close a channel whose pipeline notes another change: index, no iterator.
        for (int i = 0; i < changed.size(); i++) {
            changed.get(i).apply();
        }
        changed.clear();
    }

    /** One channel's registration: its wanted interest set and the one the kernel holds. */
    private final class Registration implements IoRegistration {
        private final IoRegistration kernel;
        /** What the kernel holds, as far as this registration applied it; null before the first. */
        private @Nullable IoOps applied;
        private @Nullable IoOps wanted;
        private boolean queued;

        Registration(IoRegistration kernel) {
            this.kernel = kernel;
        }

        @Override
        public <T> T attachment() {
            return kernel.attachment();
        }

        @Override
        public long submit(IoOps ops) {
            if (applied == null || EpollIoOps.NONE.equals(ops) || !loop.isExecutorThread(Thread.currentThread())) {
                wanted = null;
                return submitNow(ops);
            }
            wanted = ops;
            if (!queued) {
                queued = true;
                changed.add(this);
            }
            return ((EpollIoOps) ops).value();
        }

        void apply() {
            queued = false;
            IoOps ops = wanted;
            wanted = null;
            if (ops != null && !ops.equals(applied) && kernel.isValid()) {
                submitNow(ops);
            }
        }

        private long submitNow(IoOps ops) {
            long result = kernel.submit(ops);
            applied = ops;
            APPLIED.increment();
            return result;
        }

        @Override
        public boolean isValid() {
            return kernel.isValid();
        }

        @Override
        public boolean cancel() {
            wanted = null;
            return kernel.cancel();
        }
    }
}
