package io.keymux.server;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.time.Duration;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.NonBlocking;
import reactor.netty.resources.LoopResources;

/**
 * Event loops on Linux's {@code io_uring} (Netty 4.2's transport), for the listeners and the
 * upstream connections alike. Reactor Netty 1.3 only knows the incubator's io_uring, so this is
 * the {@link LoopResources} it would have made: one group of {@code threads} loops (no separate
 * acceptor) and the io_uring channel for each channel type asked for.
 *
 * <p>Why io_uring: Reactor Netty's server turns auto-read off and on around every request. With
 * epoll each turn is an {@code epoll_ctl} at once; with io_uring a read is a submission queued in
 * the ring, and the loop submits all of an iteration's reads and writes in one
 * {@code io_uring_enter}.
 */
final class IoUringLoops implements LoopResources {
    private final EventLoopGroup group;

    private IoUringLoops(String prefix, int threads) {
        this.group = new MultiThreadIoEventLoopGroup(threads, new LoopThreads(prefix), IoUringIoHandler.newFactory());
    }

    /** Whether this kernel and JVM can run io_uring (Netty's own check: kernel, seccomp, native library). */
    static boolean available() {
        return IoUring.isAvailable();
    }

    /** {@code threads} io_uring event loops named {@code prefix-uring-N}. */
    static LoopResources create(String prefix, int threads) {
        return new IoUringLoops(prefix, threads);
    }

    @Override
    public EventLoopGroup onServer(boolean useNative) {
        return group;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <C extends Channel> C onChannel(Class<C> channelType, EventLoopGroup group) {
        if (channelType.equals(SocketChannel.class)) {
            return (C) new IoUringSocketChannel();
        }
        if (channelType.equals(ServerSocketChannel.class)) {
            return (C) new IoUringServerSocketChannel();
        }
        if (channelType.equals(DatagramChannel.class)) {
            return (C) new IoUringDatagramChannel();
        }
        throw new IllegalArgumentException("io_uring has no channel for " + channelType.getSimpleName());
    }

    @Override
    @SuppressWarnings("unchecked")
    public <C extends Channel> Class<? extends C> onChannelClass(Class<C> channelType, EventLoopGroup group) {
        if (channelType.equals(SocketChannel.class)) {
            return (Class<? extends C>) IoUringSocketChannel.class;
        }
        if (channelType.equals(ServerSocketChannel.class)) {
            return (Class<? extends C>) IoUringServerSocketChannel.class;
        }
        if (channelType.equals(DatagramChannel.class)) {
            return (Class<? extends C>) IoUringDatagramChannel.class;
        }
        throw new IllegalArgumentException("io_uring has no channel for " + channelType.getSimpleName());
    }

    @Override
    public boolean isDisposed() {
        return group.isShutdown();
    }

    @Override
    public Mono<Void> disposeLater(Duration quietPeriod, Duration timeout) {
        return Mono.defer(() -> {
            if (group.isShuttingDown()) {
                return Mono.fromFuture(() -> toCompletable(group));
            }
            group.shutdownGracefully(quietPeriod.toMillis(), timeout.toMillis(), TimeUnit.MILLISECONDS);
            return Mono.fromFuture(() -> toCompletable(group));
        });
    }

    private static java.util.concurrent.CompletableFuture<Void> toCompletable(EventLoopGroup group) {
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        group.terminationFuture().addListener(f -> done.complete(null));
        return done;
    }

    /**
     * Daemon loop threads that Reactor and BlockHound know as non-blocking, like Reactor Netty's own
     * loop threads, so a blocking call on one fails a test.
     */
    private static final class LoopThreads implements ThreadFactory {
        private final String prefix;
        private final AtomicInteger next = new AtomicInteger(1);

        LoopThreads(String prefix) {
            this.prefix = prefix;
        }

        @Override
        public Thread newThread(Runnable task) {
            Thread thread = new LoopThread(task, prefix + "-uring-" + next.getAndIncrement());
            thread.setDaemon(true);
            return thread;
        }
    }

    private static final class LoopThread extends FastThreadLocalThread implements NonBlocking {
        LoopThread(Runnable task, String name) {
            super(task, name);
        }
    }
}
