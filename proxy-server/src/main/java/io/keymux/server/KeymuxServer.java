package io.keymux.server;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.ServerConfig;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.time.TimeSource;
import io.keymux.server.admin.AdminRoutes;
import io.keymux.server.pipeline.InFlight;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.pipeline.ProxyPipeline;
import io.keymux.server.redis.SharedLimitBroker;
import io.keymux.server.upstream.UpstreamClients;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

/**
 * A running keymux: the proxy listener on {@code server.port}, the admin listener on
 * {@code server.admin_port}, one pooled upstream client, all on one set of event loops (epoll when
 * the native transport is available).
 *
 * <pre>{@code
 * try (KeymuxServer server = KeymuxServer.start(config)) {
 *     server.awaitShutdownOnSignal();   // SIGTERM/SIGINT: drain, then return so main exits 0
 * }
 * }</pre>
 */
public final class KeymuxServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KeymuxServer.class);
    private static final AtomicBoolean TRANSPORT_LOGGED = new AtomicBoolean();

    private final KeymuxConfig config;
    private final LoopResources loops;
    private final KeyBroker broker;
    private final UpstreamClients upstreams;
    private final InFlight inFlight;
    private final ProxyMetrics metrics = new ProxyMetrics();
    private final DisposableServer proxy;
    private final DisposableServer admin;
    private final AtomicBoolean closed = new AtomicBoolean();

    private KeymuxServer(KeymuxConfig config, TimeSource time, BiFunction<KeymuxConfig, TimeSource, KeyBroker> brokers) {
        this.config = config;
        ServerConfig server = config.server();
        if (TRANSPORT_LOGGED.compareAndSet(false, true)) {
            LOG.info("network transport: {}", LoopResources.hasNativeSupport() ? "native (epoll)" : "NIO");
        }
        this.loops = LoopResources.create("keymux", LoopResources.DEFAULT_IO_WORKER_COUNT, true);
        this.broker = Objects.requireNonNull(brokers.apply(config, time), "broker");
        SharedLimitBroker.registerMetrics(metrics, broker);
        this.upstreams = new UpstreamClients(config, loops);
        this.inFlight = new InFlight();
        ProxyPipeline pipeline = new ProxyPipeline(config, broker, upstreams, time, inFlight, metrics);
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(server.maxUriBytes())
                .setMaxHeaderSize(server.maxHeaderBytes())
                // Netty's RFC 9112 mode would refuse Content-Length + Transfer-Encoding with an empty 400;
                // instead the headers flag it and the pipeline answers SPEC.md's JSON 400 bad_request.
                .setUseRfc9112TransferEncoding(false)
                .setHeadersFactory(SmugglingAwareHeaders.FACTORY);
        this.proxy = bindOrCleanUp(() -> HttpServer.create()
                .runOn(loops)
                .host(server.bind())
                .port(server.port())
                // Keep-alive connections with no request for this long are closed.
                .idleTimeout(server.idleTimeout())
                .httpRequestDecoder(spec -> spec.maxInitialLineLength(server.maxUriBytes())
                        .maxHeaderSize(server.maxHeaderBytes()))
                // Same codec as Reactor Netty's, plus headers that flag Content-Length + Transfer-Encoding.
                .doOnChannelInit((observer, channel, address) -> {
                    if (channel.pipeline().get(NettyPipeline.HttpCodec) instanceof HttpServerCodec) {
                        channel.pipeline().replace(NettyPipeline.HttpCodec, NettyPipeline.HttpCodec,
                                new HttpServerCodec(decoder.clone()));
                    }
                })
                .handle(pipeline)
                .bindNow(), null);
        this.admin = bindOrCleanUp(() -> HttpServer.create()
                .runOn(loops)
                .host(server.bind())
                .port(server.adminPort())
                .route(new AdminRoutes(config, inFlight::draining))
                .bindNow(), proxy);
        LOG.info("keymux listening: proxy on port {}, admin on port {}", proxyPort(), adminPort());
    }

    /** Binds a listener; if that fails (port taken), releases what was already started, then rethrows. */
    private DisposableServer bindOrCleanUp(Supplier<DisposableServer> bind, @Nullable DisposableServer started) {
        try {
            return bind.get();
        } catch (RuntimeException e) {
            if (started != null) {
                started.disposeNow(Duration.ofSeconds(5));
            }
            upstreams.close();
            broker.close();
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
            throw e;
        }
    }

    /** Starts keymux for a configuration on the system clock. */
    public static KeymuxServer start(KeymuxConfig config) {
        return builder(config).start();
    }

    /** A builder, for a clock or key broker other than the defaults. */
    public static Builder builder(KeymuxConfig config) {
        return new Builder(Objects.requireNonNull(config, "config"));
    }

    /** Set-once options for {@link KeymuxServer}; {@link #start()} binds both listeners. */
    public static final class Builder {
        private final KeymuxConfig config;
        private TimeSource time = TimeSource.system();
        private BiFunction<KeymuxConfig, TimeSource, KeyBroker> brokers = SharedLimitBroker::create;

        private Builder(KeymuxConfig config) {
            this.config = config;
        }

        /** The clock for the broker and latencies (default: the system clock). */
        public Builder timeSource(TimeSource time) {
            this.time = Objects.requireNonNull(time, "time");
            return this;
        }

        /** How the key broker is made (default: {@link SharedLimitBroker#create}). The server closes it. */
        public Builder broker(BiFunction<KeymuxConfig, TimeSource, KeyBroker> brokers) {
            this.brokers = Objects.requireNonNull(brokers, "brokers");
            return this;
        }

        /** Binds the proxy and admin ports and returns the running server. */
        public KeymuxServer start() {
            return new KeymuxServer(config, time, brokers);
        }
    }

    /** The bound proxy port (the real one when {@code server.port} is 0). */
    public int proxyPort() {
        return proxy.port();
    }

    /** The bound admin port (the real one when {@code server.admin_port} is 0). */
    public int adminPort() {
        return admin.port();
    }

    /** With {@code limits.backend: redis}, whether Redis answers now (for {@code /readyz} "degraded"); else empty. */
    public Optional<BooleanSupplier> redisUp() {
        return broker instanceof SharedLimitBroker shared ? Optional.of(shared::redisUp) : Optional.empty();
    }

    /** Requests being served right now. */
    public int inFlight() {
        return inFlight.count();
    }

    /**
     * Starts draining without blocking: {@code /readyz} turns 503 at once, the proxy stops accepting
     * connections, and requests in flight continue (answers given from now on close their
     * connection). The admin listener stays up ({@code /healthz} 200) until {@link #close()}.
     *
     * @return completes when no request is in flight any more
     */
    public CompletableFuture<Void> beginDrain() {
        CompletableFuture<Void> idle = inFlight.drain();
        proxy.dispose();
        return idle;
    }

    /**
     * Drains ({@link #beginDrain()}) and waits up to {@code timeout} for requests and streams in
     * flight to finish. Blocks the caller: never call it on an event loop.
     *
     * @return whether every in-flight request finished in time
     */
    public boolean drain(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        CompletableFuture<Void> idle = beginDrain();
        try {
            idle.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            LOG.warn("drain timeout {} reached with {} request(s) still in flight; closing them", timeout,
                    inFlight.count());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException("drain future failed", e);
        }
    }

    /**
     * Blocks until SIGTERM or SIGINT, then drains for {@code server.drain_timeout} and closes, and
     * returns so {@code main} can exit 0 (a JVM shutdown hook would exit 143 instead).
     */
    public void awaitShutdownOnSignal() throws InterruptedException {
        // sun.misc.Signal (module jdk.unsupported, kept for this use): a shutdown hook could not make
        // the JVM exit 0 after SIGTERM, and SPEC.md section 1 wants exit 0 after the drain.
        CountDownLatch signalled = new CountDownLatch(1);
        sun.misc.SignalHandler handler = signal -> signalled.countDown();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), handler);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), handler);
        signalled.await();
        LOG.info("signal received: draining for up to {}", config.server().drainTimeout());
        drain(config.server().drainTimeout());
        close();
    }

    /** Stops both listeners, the upstream pool, the broker and the event loops. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        proxy.disposeNow(Duration.ofSeconds(5));
        admin.disposeNow(Duration.ofSeconds(5));
        upstreams.close();
        broker.close();
        loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
    }
}
