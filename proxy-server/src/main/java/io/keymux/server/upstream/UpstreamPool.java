package io.keymux.server.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * One event loop's upstream connections: idle ones per {@link Origin}, reused newest first, and new
 * ones opened on this loop, so an exchange and its upstream connection always share a thread (the
 * worker model of nginx and Envoy, and Zuul 2's and Armeria's per-loop pools). Only this loop's
 * thread touches it.
 *
 * <p>No bound of its own: a connection serves one exchange at a time, and exchanges are bounded by
 * {@code server.max_connections}. A connection idle for {@link #MAX_IDLE_NANOS} is closed, below
 * the usual upstream keep-alive of 60 s, so one is not reused just as the upstream closes it.
 *
 * <p>Besides the idle connections it knows every channel it opened that has not finished closing:
 * busy ones, dedicated ones, and those a failed connect or an abandoned exchange is still closing.
 * {@link #close} closes them all and hands back their close futures, so the loop is stopped only
 * after (a channel still closing when its loop stops has its last task refused by the loop).
 */
public final class UpstreamPool {
    static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(50);
    private static final long EVICT_EVERY_SECONDS = 10;

    private final EventLoop loop;
    private final Class<? extends Channel> channelClass;
    private final AddressResolverGroup<? extends SocketAddress> resolver;
    private final SslContext tls;
    /** Idle connections per origin; the newest at the tail. */
    private final Map<Origin, ArrayDeque<UpstreamConnection>> idle = new HashMap<>();
    /** Every channel opened here whose close has not completed, idle or not (touched on the loop only). */
    private final Set<Channel> open = new HashSet<>();
    private final ScheduledFuture<?> eviction;
    private boolean closed;

    UpstreamPool(EventLoop loop, Class<? extends Channel> channelClass,
            AddressResolverGroup<? extends SocketAddress> resolver, SslContext tls) {
        this.loop = loop;
        this.channelClass = channelClass;
        this.resolver = resolver;
        this.tls = tls;
        this.eviction = loop.scheduleAtFixedRate(this::evictIdle, EVICT_EVERY_SECONDS, EVICT_EVERY_SECONDS,
                TimeUnit.SECONDS);
    }

    /** The loop this pool's connections live on. */
    public EventLoop loop() {
        return loop;
    }

    /**
     * A connection to {@code origin} on this loop: an idle one at once, or a new one once connected
     * (for {@code https}, the TLS handshake follows on the connection and a failed one fails the first
     * exchange). Call on this pool's loop; the future's listeners run there too.
     */
    public Future<UpstreamConnection> acquire(Origin origin, int connectTimeoutMillis) {
        return acquire(origin, connectTimeoutMillis, false);
    }

    /**
     * {@link #acquire}, with {@code fresh} a new connection even when an idle one is there: the resend
     * after a {@link UpstreamConnection.StaleConnectionException}.
     */
    public Future<UpstreamConnection> acquire(Origin origin, int connectTimeoutMillis, boolean fresh) {
        ArrayDeque<UpstreamConnection> ready = fresh ? null : idle.get(origin);
        if (ready != null) {
            UpstreamConnection connection;
            while ((connection = ready.pollLast()) != null) {
                if (connection.isActive()) {
                    return loop.newSucceededFuture(connection);
                }
            }
        }
        Promise<UpstreamConnection> promise = loop.newPromise();
        if (closed) {
            return promise.setFailure(new IllegalStateException("the upstream pool is closed"));
        }
        UpstreamConnection connection = new UpstreamConnection(this, origin);
        ChannelFuture connecting = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .resolver(resolver)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        ChannelPipeline pipeline = channel.pipeline();
                        if (origin.secure()) {
                            pipeline.addLast(verifyingHandler(channel, origin));
                        }
                        pipeline.addLast(new HttpClientCodec());
                        pipeline.addLast(connection);
                    }
                })
                .connect(InetSocketAddress.createUnresolved(origin.host(), origin.port()));
        track(connecting.channel());
        connecting.addListener(done -> {
            if (done.isSuccess()) {
                promise.setSuccess(connection);
            } else {
                promise.setFailure(connectFailure(done.cause()));
            }
        });
        return promise;
    }

    /**
     * A connection of its own to {@code origin} on this loop, never pooled: a WebSocket session keeps
     * it for its whole life. For {@code https} the verifying TLS handler comes first, then whatever
     * {@code handlers} adds. Call on this pool's loop.
     */
    public ChannelFuture connectDedicated(Origin origin, int connectTimeoutMillis, Consumer<Channel> handlers) {
        ChannelFuture connecting = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .resolver(resolver)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (origin.secure()) {
                            channel.pipeline().addLast(verifyingHandler(channel, origin));
                        }
                        handlers.accept(channel);
                    }
                })
                .connect(InetSocketAddress.createUnresolved(origin.host(), origin.port()));
        track(connecting.channel());
        return connecting;
    }

    /** Remembers {@code channel} until its close completes, so {@link #close} can close it and wait. */
    private void track(Channel channel) {
        if (!loop.inEventLoop()) {
            // A caller off the loop (a test's own thread): the set is the loop's alone.
            loop.execute(() -> track(channel));
            return;
        }
        // A channel that could not even be created (Bootstrap's placeholder) is not open: nothing to close.
        if (channel.isOpen() && open.add(channel)) {
            channel.closeFuture().addListener(closed -> open.remove(channel));
        }
    }

    /**
     * A socket that could not even be opened (out of file descriptors, say: Netty wraps the
     * {@code EMFILE} in {@link ChannelException}s, around the channel's constructor) is a failed
     * connect like a refused one, an {@link IOException}, so the request fails over and ends in a
     * 502 rather than a 500.
     */
    private static Throwable connectFailure(Throwable cause) {
        if (!(cause instanceof ChannelException)) {
            return cause;
        }
        for (Throwable t = cause.getCause(); t != null; t = t.getCause()) {
            if (t instanceof IOException io) {
                return io;
            }
        }
        return cause;
    }

    /** A TLS handler that checks the upstream's certificate and that it names the host (as HTTPS does). */
    private SslHandler verifyingHandler(Channel channel, Origin origin) {
        SslHandler handler = tls.newHandler(channel.alloc(), origin.host(), origin.port());
        SSLEngine engine = handler.engine();
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(parameters);
        return handler;
    }

    /** Takes back a connection whose answer is in whole. */
    void release(UpstreamConnection connection) {
        if (closed) {
            connection.close();
            return;
        }
        connection.idleSince = System.nanoTime();
        connection.servedBefore = true;
        idle.computeIfAbsent(connection.origin(), origin -> new ArrayDeque<>()).addLast(connection);
    }

    /** An idle connection closed (by the upstream, or the eviction). */
    void forget(UpstreamConnection connection) {
        ArrayDeque<UpstreamConnection> ready = idle.get(connection.origin());
        if (ready != null) {
            ready.remove(connection);
        }
    }

    private void evictIdle() {
        long now = System.nanoTime();
        List<UpstreamConnection> stale = new ArrayList<>();
        for (ArrayDeque<UpstreamConnection> ready : idle.values()) {
            // Oldest first: stop at the first one still young enough.
            Iterator<UpstreamConnection> oldest = ready.iterator();
            while (oldest.hasNext()) {
                UpstreamConnection connection = oldest.next();
                if (connection.isActive() && now - connection.idleSince < MAX_IDLE_NANOS) {
                    break;
                }
                oldest.remove();
                stale.add(connection);
            }
        }
        // Closed after the walk: a close may call forget() on the same deque.
        stale.forEach(UpstreamConnection::close);
    }

    /**
     * Closes every channel of this pool (idle, busy, dedicated, or still closing) and stops taking
     * connections back; the returned futures complete as the channels close, so the loop is shut
     * down only after. Runs on the loop.
     */
    List<ChannelFuture> close() {
        closed = true;
        eviction.cancel(false);
        idle.clear();
        List<ChannelFuture> closing = new ArrayList<>(open.size());
        // A copy: each close completes (and leaves the set) on this loop, possibly at once.
        for (Channel channel : List.copyOf(open)) {
            closing.add(channel.close());
        }
        return closing;
    }
}
