package io.keymux.server.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import reactor.netty.resources.LoopResources;

/**
 * The upstream connection pools: one {@link UpstreamPool} per event loop of the server's group, so
 * an exchange that runs on a loop gets an upstream connection that lives on the same loop and never
 * changes threads between the client's socket and the upstream's. Plain Netty (a bootstrap, the
 * HTTP/1.1 codec and {@link UpstreamConnection}): no operators, pool bookkeeping or auto-read
 * toggling per exchange. Names are resolved asynchronously (Netty's DNS resolver, which also reads
 * {@code /etc/hosts}), never on the loop; {@code https} upstreams get the JDK's trusted certificates
 * and a host name check.
 *
 * <pre>{@code
 * UpstreamPool pool = upstreams.on(channel.eventLoop());
 * }</pre>
 */
public final class UpstreamClients implements AutoCloseable {
    private final Map<EventLoop, UpstreamPool> byLoop = new IdentityHashMap<>();
    private final List<UpstreamPool> pools = new ArrayList<>();
    private final DnsAddressResolverGroup resolver;
    /** The resolvers' datagram channels not yet closed: closing the resolver does not wait for them. */
    private final Set<Channel> resolverChannels = ConcurrentHashMap.newKeySet();

    /**
     * Builds one pool per event loop of {@code loops}' server group, native when available (the
     * group {@code HttpServer.runOn(loops)} uses).
     */
    public UpstreamClients(LoopResources loops) {
        this(loops, LoopResources.hasNativeSupport());
    }

    /**
     * Builds one pool per event loop of {@code loops}' server group for {@code preferNative}: the
     * same choice the listeners made with {@code runOn(loops, preferNative)}, so both sides of an
     * exchange share its loop.
     */
    public UpstreamClients(LoopResources loops, boolean preferNative) {
        Objects.requireNonNull(loops, "loops");
        EventLoopGroup group = loops.onServer(preferNative);
        Class<? extends Channel> channelClass = loops.onChannelClass(SocketChannel.class, group);
        ChannelFactory<DatagramChannel> datagrams =
                new ReflectiveChannelFactory<>(loops.onChannelClass(DatagramChannel.class, group));
        this.resolver = new DnsAddressResolverGroup(new DnsNameResolverBuilder().datagramChannelFactory(() -> {
            DatagramChannel channel = datagrams.newChannel();
            resolverChannels.add(channel);
            channel.closeFuture().addListener(closed -> resolverChannels.remove(channel));
            return channel;
        }));
        SslContext tls = clientTls();
        for (EventExecutor executor : group) {
            EventLoop loop = (EventLoop) executor;
            UpstreamPool pool = new UpstreamPool(loop, channelClass, resolver, tls);
            byLoop.put(loop, pool);
            pools.add(pool);
        }
        if (pools.isEmpty()) {
            throw new IllegalArgumentException("the event loop group has no loop");
        }
    }

    private static SslContext clientTls() {
        try {
            return SslContextBuilder.forClient().build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS towards upstreams", e);
        }
    }

    /**
     * The pool whose connections live on {@code loop}. A loop that is not one of the server group's
     * (a test's own thread) gets the first loop's pool; its exchange then continues on that loop.
     */
    public UpstreamPool on(EventLoop loop) {
        UpstreamPool pool = byLoop.get(loop);
        return pool != null ? pool : pools.get(0);
    }

    /**
     * Closes every upstream channel on each loop, busy or idle, then the resolver, and waits (up to
     * 5 s, then up to 1 s) for those channels to have closed: the loops can then stop without a
     * channel's last task being refused.
     */
    @Override
    public void close() {
        CountDownLatch done = new CountDownLatch(pools.size());
        for (UpstreamPool pool : pools) {
            if (pool.loop().isShuttingDown()) {
                done.countDown();
                continue;
            }
            pool.loop().execute(() -> {
                List<ChannelFuture> closing = List.of();
                try {
                    closing = pool.close();
                } finally {
                    whenAllDone(closing, done::countDown);
                }
            });
        }
        await(done, 5);
        resolver.close();
        List<ChannelFuture> resolvers = new ArrayList<>();
        resolverChannels.forEach(channel -> resolvers.add(channel.closeFuture()));
        CountDownLatch closed = new CountDownLatch(1);
        whenAllDone(resolvers, closed::countDown);
        await(closed, 1);
    }

    /** Runs {@code then} once every one of {@code futures} is done (at once when there are none). */
    private static void whenAllDone(List<ChannelFuture> futures, Runnable then) {
        if (futures.isEmpty()) {
            then.run();
            return;
        }
        AtomicInteger open = new AtomicInteger(futures.size());
        ChannelFutureListener closed = f -> {
            if (open.decrementAndGet() == 0) {
                then.run();
            }
        };
        futures.forEach(f -> f.addListener(closed));
    }

    private static void await(CountDownLatch latch, int seconds) {
        try {
            latch.await(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
