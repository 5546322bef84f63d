package io.keymux.server;

import io.keymux.config.load.LoadResult;
import io.keymux.config.load.Problem;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TlsConfig;
import io.keymux.config.reload.ConfigSource;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.time.TimeSource;
import io.keymux.server.admin.AdminRoutes;
import io.keymux.server.guard.ConnectionGate;
import io.keymux.server.guard.GuardRefusal;
import io.keymux.server.guard.HttpGuard;
import io.keymux.server.guard.QueueLimitedBroker;
import io.keymux.server.reload.ReloadResult;
import io.keymux.server.reload.ReloadRoute;
import io.keymux.server.reload.RestartOnly;
import io.keymux.server.admin.InsightSampler;
import io.keymux.server.admin.ReadinessSignals;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.audit.AuditRecord;
import io.keymux.server.affinity.AffinityStore;
import io.keymux.server.affinity.ObjectAffinity;
import io.keymux.server.affinity.RedisAffinityStore;
import io.keymux.server.cache.CachePurgeRoute;
import io.keymux.server.cache.ResponseCache;
import io.keymux.server.pipeline.InFlight;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.metrics.RecordingBroker;
import io.keymux.server.pipeline.ProxyPipeline;
import io.keymux.server.sharedstate.SharedLimitBroker;
import io.keymux.server.upstream.UpstreamClients;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

/**
 * A running keymux: the proxy listener on {@code server.port}, the admin listener on
 * {@code server.admin_port}, one pooled upstream client, all on one set of event loops (io_uring
 * where it runs, else epoll: {@link Transport}).
 *
 * <pre>{@code
 * try (KeymuxServer server = KeymuxServer.start(config)) {
 *     server.awaitShutdownOnSignal();   // SIGTERM/SIGINT: drain, then return so main exits 0
 * }
 * }</pre>
 *
 * <p>Reload ({@link #reload}, {@link #apply}, {@link #reloadFromSource}, {@code POST /admin/reload}):
 * a valid new configuration gets a new {@link ProxyPipeline}, swapped in through an
 * {@link AtomicReference} the listener reads once per request, so requests in flight finish on the
 * snapshot they started with. The event loops, listeners, upstream connection pool and key broker
 * survive; the broker is {@linkplain KeyBroker#reconfigure reconfigured} so a key keeps its counters,
 * cooldown and circuit while its {@code key_id} stays. Settings only a restart can change (see
 * {@link RestartOnly}) are logged and reported, the rest applies.
 */
public final class KeymuxServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KeymuxServer.class);
    private static final AtomicBoolean TRANSPORT_LOGGED = new AtomicBoolean();
    /** The readiness signal's component until the proxy port is open (through a warm-up run first). */
    private static final String STARTING = "start";
    /** {@code -Dkeymux.transport}, when set: {@code io_uring}, {@code epoll} or {@code nio}. */
    private static final @Nullable String REQUESTED_TRANSPORT = System.getProperty("keymux.transport");
    /** The listeners' and upstream connections' transport (see {@link Transport}): io_uring where it runs. */
    static final Transport TRANSPORT = Transport.choose(REQUESTED_TRANSPORT);

    private final KeymuxConfig config;
    private final LoopResources loops;
    private final KeyBroker broker;
    /**
     * The broker the pipelines use: {@link #broker} with a bound on requests waiting per task, and
     * every attempt written into the metrics' history.
     */
    private final KeyBroker queueLimited;
    private final TimeSource time;
    private final @Nullable ConfigSource source;
    private final AtomicReference<KeymuxConfig> current;
    private final AtomicReference<ProxyPipeline> pipeline;
    private final ConnectionGate connections;
    private final ConnectionGate adminConnections;
    private final UpstreamClients upstreams;
    private final InFlight inFlight;
    private final ProxyMetrics metrics;
    /** Unwritten audit lines kept at most; past it lines are dropped and counted, never blocking a request. */
    private static final int AUDIT_CAPACITY = 65_536;
    /** The task and key label of a request refused before routing (as {@code RequestAccounting}'s). */
    private static final String NO_LABEL = "none";
    private final AuditLog audit = new AuditLog(AUDIT_CAPACITY);
    private final ReadinessSignals readinessSignals = new ReadinessSignals();
    private final InsightSampler insights;
    /** The response cache, one per process and kept across reloads (a reload resizes it). */
    private final ResponseCache cache;
    /** The map of provider objects to keys (SPEC.md section 3.9), kept across reloads; in Redis with that backend. */
    private final ObjectAffinity affinity;
    private final DisposableServer proxy;
    private final DisposableServer admin;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The start-up warm-up, while it runs or after; {@code null} without one or when it could not start. */
    private volatile @Nullable WarmUp warmUp;

    private KeymuxServer(KeymuxConfig config, TimeSource time, BiFunction<KeymuxConfig, TimeSource, KeyBroker> brokers,
            @Nullable ConfigSource source, int warmUpRequests, Duration warmUpBudget, boolean warmUpBeforeListening) {
        this.config = config;
        this.time = time;
        this.source = source;
        this.current = new AtomicReference<>(config);
        this.metrics = new ProxyMetrics(time);
        ServerConfig server = config.server();
        if (TRANSPORT_LOGGED.compareAndSet(false, true)) {
            if (REQUESTED_TRANSPORT != null && Transport.named(REQUESTED_TRANSPORT) != TRANSPORT) {
                LOG.warn("keymux.transport={} is unknown or does not run here (expected: io_uring, epoll or nio)",
                        REQUESTED_TRANSPORT);
            }
            LOG.info("network transport: {}", TRANSPORT.configName());
        }
        this.loops = TRANSPORT.loops("keymux", eventLoops());
        this.broker = Objects.requireNonNull(brokers.apply(config, time), "broker");
        SharedLimitBroker.registerMetrics(metrics, broker);
        if (broker instanceof SharedLimitBroker shared) {
            // /readyz stays 200 but says "degraded" while each replica runs on local_share of the limits.
            shared.onRedisChange(up -> markRedis(shared));
            markRedis(shared);
        }
        this.upstreams = new UpstreamClients(loops, TRANSPORT.preferNative());
        this.inFlight = new InFlight();
        metrics.countOf("keymux.audit.dropped", "Audit lines dropped because the writer fell behind", audit,
                AuditLog::dropped);
        this.insights = new InsightSampler(broker, time);
        this.queueLimited = new RecordingBroker(new QueueLimitedBroker(broker, config), metrics.history());
        this.cache = new ResponseCache(config.cache().maxBytes(), time, metrics);
        this.affinity = new ObjectAffinity(broker instanceof SharedLimitBroker shared
                ? new RedisAffinityStore(shared.redis(), shared.prefix(), config.affinity(), time)
                : AffinityStore.local(config.affinity(), time), metrics);
        this.pipeline = new AtomicReference<>(newPipeline(config));
        this.connections = new ConnectionGate(server.maxConnections());
        this.adminConnections = new ConnectionGate(server.maxConnections());
        // The admin port opens first: /healthz answers (a liveness probe passes), and with a warm-up
        // before listening /readyz says "warming up" with a 503 however long it takes on a slow CPU.
        boolean warmUpFirst = warmUpRequests > 0 && warmUpBeforeListening;
        readinessSignals.unready(STARTING, warmUpFirst ? "warming up: the proxy port opens when the warm-up ends"
                : "starting: the proxy port is not open yet");
        this.admin = bindOrCleanUp(() -> guarded(withTls(HttpServer.create(), server.adminTls()), server,
                        adminConnections, GuardRefusal.Listener.IGNORE)
                .port(server.adminPort())
                .route(routes -> {
                    // this::config: the admin views and /readyz see each reload at once.
                    AdminRoutes adminRoutes = new AdminRoutes(this::config, broker, metrics, insights,
                            readinessSignals, inFlight::draining, time);
                    // First, so no broader admin route can shadow it; same token check as /admin/*.
                    routes.post("/admin/reload", new ReloadRoute(adminRoutes::refuse, this::reloadFromSource));
                    routes.delete("/admin/cache", new CachePurgeRoute(adminRoutes::refuse, cache));
                    adminRoutes.accept(routes);
                })
                .bindNow(), null);
        if (warmUpFirst) {
            this.warmUp = startWarmUp(server, warmUpRequests, warmUpBudget, false);
            awaitWarmUp(warmUpBudget);
        }
        this.proxy = bindOrCleanUp(() -> guarded(withTls(HttpServer.create(), server.tls()), server, connections,
                        this::auditRefusal)
                .port(server.port())
                // Read per request: a reload swaps the pipeline, requests in flight keep theirs.
                .handle((request, response) -> pipeline.get().apply(request, response))
                .bindNow(), admin);
        readinessSignals.recovered(STARTING);
        if (warmUpRequests > 0 && !warmUpBeforeListening) {
            this.warmUp = startWarmUp(server, warmUpRequests, warmUpBudget, true);
        }
        LOG.info("keymux listening: proxy on port {}, admin on port {}", proxyPort(), adminPort());
    }

    /**
     * Starts the warm-up on a loopback listener of its own with the real one's setup, or serves cold
     * (returning {@code null}) when it cannot start: a warm-up only buys speed.
     */
    private @Nullable WarmUp startWarmUp(ServerConfig server, int requests, Duration budget, boolean whileServing) {
        LOG.info("warming up: up to {} synthetic exchanges within {}, {}", requests, budget, whileServing
                ? "while serving, paused whenever a real request is in flight" : "before the proxy port opens");
        // While serving, a synthetic exchange starts only when no real request is in flight.
        int concurrency = whileServing ? WarmUp.CONCURRENCY_WHILE_SERVING : WarmUp.CONCURRENCY_ALONE;
        BooleanSupplier busy = whileServing ? () -> inFlight.count() > 0 : () -> false;
        try {
            return WarmUp.start(loops, TRANSPORT.preferNative(), upstreams, time, requests, budget, concurrency, busy,
                    warm -> guarded(HttpServer.create(), server, connections, GuardRefusal.Listener.IGNORE)
                            .host("127.0.0.1").port(0).handle(warm).bindNow());
        } catch (RuntimeException e) {
            LOG.warn("warm-up failed, serving cold: {}", e.toString());
            return null;
        }
    }

    /** Waits for the warm-up that runs before listening (its budget, then a margin for its release). */
    private void awaitWarmUp(Duration budget) {
        WarmUp running = warmUp;
        if (running == null) {
            return;
        }
        try {
            running.finished().get(budget.toMillis() + 15_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running.close();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("warm-up did not end in time, serving: {}", e.toString());
            running.close();
        }
    }

    /**
     * A request the guard answered before routing (a bad target, 405, 408, 414, 431, the connection
     * cap's 503) gets its audit line and its count, as every request does (SPEC.md sections 5 and 6).
     */
    private void auditRefusal(GuardRefusal refusal) {
        metrics.request(NO_LABEL, NO_LABEL, refusal.status());
        long latencyMs = refusal.latencyNanos() / 1_000_000;
        audit.record(new AuditRecord(time.currentTimeMillis() - latencyMs, refusal.requestId(),
                refusal.remoteAddr(), null, null, null, null, refusal.method(), refusal.path(), refusal.status(), 0,
                latencyMs, null, null, null, null, "off"));
    }

    /**
     * One event loop per CPU the JVM may use (nginx's one worker per core), unless
     * {@code -Dreactor.netty.ioWorkerCount} says otherwise: an exchange stays on one loop from
     * accept to last byte, so more loops than CPUs only add context switches.
     */
    private static int eventLoops() {
        String configured = System.getProperty("reactor.netty.ioWorkerCount");
        if (configured != null) {
            return LoopResources.DEFAULT_IO_WORKER_COUNT;
        }
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /**
     * The protection both listeners share (SPEC.md section 4): the URI and header block limits, the
     * codec that flags Content-Length + Transfer-Encoding, the header and body read timeouts, the
     * connection cap ({@code gate}, one per listener, so a flood on the proxy port does not lock
     * operators out of the admin port) and the idle timeout, on keymux's event loops.
     */
    private HttpServer guarded(HttpServer http, ServerConfig server, ConnectionGate gate,
            GuardRefusal.Listener refusals) {
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(server.maxUriBytes())
                .setMaxHeaderSize(server.maxHeaderBytes())
                // Netty's RFC 9112 mode would refuse Content-Length + Transfer-Encoding with an empty 400;
                // instead the headers flag it and the guard answers SPEC.md's JSON 400 bad_request.
                .setUseRfc9112TransferEncoding(false)
                .setHeadersFactory(SmugglingAwareHeaders.FACTORY);
        return http.runOn(loops, TRANSPORT.preferNative())
                // Answers go out in several flushes (headers, then each chunk): without NODELAY, Nagle
                // holds each small write until the client's delayed ACK, adding milliseconds a request.
                .childOption(ChannelOption.TCP_NODELAY, true)
                .host(server.bind())
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
                    // SPEC.md section 4's JSON answers for malformed or slow requests, and the connection cap.
                    HttpGuard.install(channel, server.requestHeaderTimeout(), gate, refusals);
                });
    }

    private ProxyPipeline newPipeline(KeymuxConfig next) {
        return new ProxyPipeline(next, queueLimited, upstreams, time, inFlight, metrics, audit, cache, affinity);
    }

    /** Serves TLS with the PEM pair when configured, plain HTTP otherwise. */
    private static HttpServer withTls(HttpServer server, @Nullable TlsConfig tls) {
        if (tls == null) {
            return server;
        }
        return server.secure(spec -> spec.sslContext(
                Http11SslContextSpec.forServer(tls.certFile().toFile(), tls.keyFile().toFile())));
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
            insights.close();
            audit.close();
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
        private @Nullable ConfigSource source;
        private int warmUpRequests;
        private Duration warmUpBudget = Duration.ZERO;
        private boolean warmUpBeforeListening;

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

        /**
         * Where the configuration was loaded from, so {@link #reloadFromSource()} and
         * {@code POST /admin/reload} can load it again (default: none, and they refuse).
         */
        public Builder configSource(ConfigSource source) {
            this.source = Objects.requireNonNull(source, "source");
            return this;
        }

        /**
         * Runs up to {@code requests} synthetic exchanges for at most {@code budget} through the real
         * request path against an in-process stub, so that real requests meet compiled code (default:
         * none; {@code keymux serve} turns it on). It runs once the proxy port serves, in the gaps
         * between real requests, unless {@link #warmUpBeforeListening()} asks for it first.
         */
        public Builder warmUp(int requests, Duration budget) {
            if (requests < 0) {
                throw new IllegalArgumentException("warm-up requests: " + requests + " (expected: >= 0)");
            }
            this.warmUpRequests = requests;
            this.warmUpBudget = Objects.requireNonNull(budget, "budget");
            return this;
        }

        /**
         * The warm-up runs to its end before the proxy port opens ({@code /readyz} 503 "warming up"
         * meanwhile): for a replica that gets its full share of traffic the moment it is ready.
         */
        public Builder warmUpBeforeListening() {
            this.warmUpBeforeListening = true;
            return this;
        }

        /** Binds the proxy and admin ports and returns the running server. */
        public KeymuxServer start() {
            return new KeymuxServer(config, time, brokers, source, warmUpRequests, warmUpBudget, warmUpBeforeListening);
        }
    }

    /** How many synthetic exchanges the warm-up ({@link Builder#warmUp}) has completed so far. */
    public int warmUpExchanges() {
        WarmUp running = warmUp;
        return running == null ? 0 : running.exchanges();
    }

    /**
     * Completes with the warm-up's count of completed exchanges once it has ended and released its
     * listener (at once, with 0, without a warm-up).
     */
    public CompletableFuture<Integer> warmUpFinished() {
        WarmUp running = warmUp;
        return running == null ? CompletableFuture.completedFuture(0) : running.finished();
    }

    /** The bound proxy port (the real one when {@code server.port} is 0). */
    public int proxyPort() {
        return proxy.port();
    }

    /** The bound admin port (the real one when {@code server.admin_port} is 0). */
    public int adminPort() {
        return admin.port();
    }

    /** The configuration new requests are served with. */
    public KeymuxConfig config() {
        return current.get();
    }

    /** Open proxy connections, those over {@code server.max_connections} included. */
    public int openConnections() {
        return connections.open();
    }

    /**
     * Swaps in a new, valid configuration: new requests use it, requests in flight finish on the old
     * one. Keys keep their state by {@code key_id} ({@link KeyBroker#reconfigure}); removed keys drain,
     * added keys serve at once, a disabled key whose secret changed is enabled again.
     */
    public synchronized ReloadResult reload(KeymuxConfig next) {
        Objects.requireNonNull(next, "next");
        KeymuxConfig running = current.get();
        List<String> restartOnly = RestartOnly.changed(running.server(), next.server());
        // Built before anything changes: if building fails, nothing was swapped.
        ProxyPipeline nextPipeline = newPipeline(next);
        queueLimited.reconfigure(next);
        cache.resize(next.cache().maxBytes());
        pipeline.set(nextPipeline);
        current.set(next);
        metrics.reload(true);
        ReloadResult.Applied applied = ReloadResult.Applied.of(next, restartOnly);
        LOG.info("config reloaded: {} upstreams, {} tasks, {} keys, {} clients", applied.upstreams(),
                applied.tasks(), applied.keys(), applied.clients());
        if (!restartOnly.isEmpty()) {
            LOG.warn("config reload: {} changed but only apply after a restart; the running listeners keep "
                    + "their current values", String.join(", ", restartOnly));
        }
        return applied;
    }

    /**
     * Applies a load result, as a {@link io.keymux.config.reload.ConfigWatcher} delivers it: a valid
     * configuration is {@linkplain #reload swapped in}; an invalid one is refused, logged with every
     * problem (paths and messages, never a value) and counted, and the running one stays.
     */
    public ReloadResult apply(LoadResult result) {
        Objects.requireNonNull(result, "result");
        KeymuxConfig next = result.config();
        if (next == null) {
            return refuse("invalid configuration", result.problems().stream().map(Problem::toString).toList());
        }
        for (String warning : result.warnings()) {
            LOG.warn("config reload: {}", warning);
        }
        return reload(next);
    }

    /**
     * Loads the configuration again from its {@linkplain Builder#configSource source} and applies it.
     * Reads files: never call it on an event loop.
     */
    public ReloadResult reloadFromSource() {
        if (source == null) {
            return refuse("no config file to reload from: keymux was started from an in-memory configuration",
                    List.of());
        }
        return apply(source.load());
    }

    private ReloadResult refuse(String error, List<String> problems) {
        metrics.reload(false);
        // One line with every problem (paths and messages, never a value): a log pipeline that
        // splits lines into events must not part the refusal from its reasons.
        LOG.warn("config reload refused ({}), the running configuration stays{}", error,
                problems.isEmpty() ? "" : ": " + String.join("; ", problems));
        return new ReloadResult.Refused(error, problems);
    }

    /** The metrics registry behind {@code /metrics} (for example for {@link ProxyMetrics#redisUp}). */
    public ProxyMetrics metrics() {
        return metrics;
    }

    /** This replica's response cache (SPEC.md section 3.8). */
    public ResponseCache responseCache() {
        return cache;
    }

    /** Where components report {@code degraded} for {@code /readyz} (for example the Redis backend). */
    public ReadinessSignals readinessSignals() {
        return readinessSignals;
    }

    /**
     * Sets the "redis" readiness mark from Redis's state as it is now. It reads the state itself,
     * under a lock, instead of trusting a value read earlier: the start-up call and the listener on
     * Redis's thread can interleave, and whichever runs last must write the current state, or a
     * replica could report "degraded" for good while Redis answers.
     */
    private synchronized void markRedis(SharedLimitBroker shared) {
        if (shared.redisUp()) {
            readinessSignals.recovered("redis");
        } else {
            readinessSignals.degraded("redis", "redis unreachable: each replica uses local_share ("
                    + config.limits().redis().effectiveLocalShare(broker.liveReplicas()) + ") of every key's limits");
        }
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
        WarmUp running = warmUp;
        if (running != null) {
            running.stop();
        }
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
        LOG.info("signal received: draining for up to {}", config().server().drainTimeout());
        drain(config().server().drainTimeout());
        close();
    }

    /** Stops both listeners, the upstream pool, the broker and the event loops. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        WarmUp running = warmUp;
        if (running != null) {
            running.close(); // before the loops and upstream pools it runs on go
        }
        proxy.disposeNow(Duration.ofSeconds(5));
        admin.disposeNow(Duration.ofSeconds(5));
        upstreams.close();
        broker.close();
        insights.close();
        loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        // Last, so the lines of requests that ended while closing are written too.
        audit.close();
    }
}
