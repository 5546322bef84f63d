package io.keymux.server;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.NonBlocking;
import reactor.netty.resources.LoopResources;

/**
 * Event loops on Netty's epoll transport, whenever keymux runs on epoll. Two reasons for its own
 * loops rather than Reactor Netty's: Reactor Netty 1.3 prefers io_uring whenever its native library
 * loads and has no switch for epoll, and these loops apply interest changes once per iteration
 * ({@link CoalescedEpollInterest}), which saves the two {@code epoll_ctl} calls Reactor Netty's
 * auto-read toggle costs every request. One group of {@code threads} loops (no separate acceptor)
 * and the epoll channel for each channel type asked for.
 */
final class EpollLoops implements LoopResources {
    private final EventLoopGroup group;

    private EpollLoops(String prefix, int threads) {
        this.group = new MultiThreadIoEventLoopGroup(threads, new LoopThreads(prefix), CoalescedEpollInterest.factory());
    }

    /** {@code threads} epoll event loops named {@code prefix-epoll-N}. */
    static LoopResources create(String prefix, int threads) {
        return new EpollLoops(prefix, threads);
    }

    @Override
    public EventLoopGroup onServer(boolean useNative) {
        return group;
    }

    @Override
    public <C extends Channel> C onChannel(Class<C> channelType, EventLoopGroup group) {
        try {
            return onChannelClass(channelType, group).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot open an epoll " + channelType.getSimpleName(), e);
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public <C extends Channel> Class<? extends C> onChannelClass(Class<C> channelType, EventLoopGroup group) {
        if (channelType.equals(SocketChannel.class)) {
            return (Class<? extends C>) EpollSocketChannel.class;
        }
        if (channelType.equals(ServerSocketChannel.class)) {
            return (Class<? extends C>) EpollServerSocketChannel.class;
        }
        if (channelType.equals(DatagramChannel.class)) {
            return (Class<? extends C>) EpollDatagramChannel.class;
        }
        throw new IllegalArgumentException("epoll has no channel for " + channelType.getSimpleName());
    }

    @Override
    public boolean isDisposed() {
        return group.isShutdown();
    }

    @Override
    public Mono<Void> disposeLater(Duration quietPeriod, Duration timeout) {
        return Mono.defer(() -> {
            if (!group.isShuttingDown()) {
                group.shutdownGracefully(quietPeriod.toMillis(), timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
            CompletableFuture<Void> terminated = new CompletableFuture<>();
            group.terminationFuture().addListener(f -> terminated.complete(null));
            return Mono.fromFuture(terminated);
        });
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
            Thread thread = new LoopThread(task, prefix + "-epoll-" + next.getAndIncrement());
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
