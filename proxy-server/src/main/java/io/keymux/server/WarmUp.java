package io.keymux.server;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.time.TimeSource;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.guard.QueueLimitedBroker;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.pipeline.InFlight;
import io.keymux.server.pipeline.ProxyPipeline;
import io.keymux.server.sharedstate.SharedLimitBroker;
import io.keymux.server.upstream.UpstreamClients;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * Compiles the request path with synthetic exchanges (JSON and SSE chat completions, with
 * {@code include_usage} injection) through a real {@link ProxyPipeline}, on the real event loops,
 * upstream pools and listener setup, against an in-process stub upstream on 127.0.0.1. Its own
 * configuration, key broker, metrics and a discarding audit log: nothing of the warm-up reaches the
 * real keys, {@code /metrics} or the audit line. A cold JVM on one CPU needs tens of thousands of
 * exchanges before C2 has compiled the path; they run here rather than on the first real clients.
 *
 * <p>By default it runs while keymux already serves ({@link KeymuxServer.Builder#warmUp}): it
 * starts a synthetic exchange only while no real request is in flight ({@code busy}), and at most
 * {@link #CONCURRENCY_WHILE_SERVING} at a time, so it fills the CPU's idle gaps and a real request
 * shares its loop with at most that many synthetic ones. Before listening it runs flat out.
 *
 * <pre>{@code
 * WarmUp warmUp = WarmUp.start(loops, true, upstreams, time, 40_000, Duration.ofSeconds(10), 16, () -> false, listener);
 * warmUp.finished().get();   // how many exchanges were answered 200
 * warmUp.close();            // stops it early; its stub, listener and pool are released
 * }</pre>
 */
final class WarmUp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WarmUp.class);
    private static final String CLIENT_KEY = "warm-up-client";
    /** Exchanges in flight when nothing else runs: enough to keep one CPU busy through the loopback hops. */
    static final int CONCURRENCY_ALONE = 16;
    /** Exchanges in flight beside real traffic: what a real request may find ahead of it on its loop. */
    static final int CONCURRENCY_WHILE_SERVING = 2;
    /** How long a synthetic exchange waits before looking again whether real requests are still in flight. */
    private static final Duration PAUSE = Duration.ofMillis(5);

    private final long started = System.nanoTime();
    private final DisposableServer stub;
    private final KeyBroker broker;
    private final AuditLog audit;
    private final DisposableServer proxy;
    private final ConnectionProvider pool;
    private final AtomicInteger ok = new AtomicInteger();
    private final AtomicBoolean released = new AtomicBoolean();
    private final CompletableFuture<Integer> finished = new CompletableFuture<>();
    private final Disposable run;

    private WarmUp(LoopResources loops, boolean preferNative, UpstreamClients upstreams, TimeSource time, int requests,
            Duration budget, int concurrency, BooleanSupplier busy, Function<ProxyPipeline, DisposableServer> listener) {
        stub = HttpServer.create().runOn(loops, preferNative).host("127.0.0.1").port(0)
                .handle(WarmUp::answer)
                .bindNow();
        KeymuxConfig config = config(stub.port());
        broker = new QueueLimitedBroker(SharedLimitBroker.create(config, time), config);
        audit = AuditLog.discarding();
        ProxyPipeline pipeline = new ProxyPipeline(config, broker, upstreams, time, new InFlight(), new ProxyMetrics(),
                audit);
        try {
            proxy = listener.apply(pipeline);
        } catch (RuntimeException e) {
            stub.disposeNow(Duration.ofSeconds(5));
            broker.close();
            audit.close();
            throw e;
        }
        pool = ConnectionProvider.create("keymux-warm-up", concurrency);
        HttpClient client = HttpClient.create(pool).runOn(loops, preferNative)
                .baseUrl("http://127.0.0.1:" + proxy.port())
                .headers(h -> h.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + CLIENT_KEY)
                        .set(HttpHeaderNames.CONTENT_TYPE, "application/json"));
        byte[] json = body(false);
        byte[] sse = body(true);
        run = Flux.range(0, requests)
                .flatMap(i -> whenIdle(busy).then(client.post().uri("/v1/chat/completions")
                        .send(Mono.fromSupplier(() -> io.netty.buffer.Unpooled.wrappedBuffer(i % 4 == 3 ? sse : json)))
                        .responseSingle((response, content) -> content.asByteArray().defaultIfEmpty(new byte[0])
                                .doOnNext(b -> {
                                    if (response.status().code() == 200) {
                                        ok.incrementAndGet();
                                    }
                                }))
                        .onErrorResume(e -> Mono.empty())), concurrency)
                .take(budget)
                // Releasing disposes listeners and waits for them: never on an event loop.
                .doFinally(signal -> Schedulers.boundedElastic().schedule(this::release))
                .subscribe(null, e -> LOG.warn("warm-up stopped early: {}", e.toString()));
    }

    /**
     * Starts up to {@code requests} exchanges, for at most {@code budget}, {@code concurrency} at a
     * time, each waiting while {@code busy} says real requests are in flight.
     *
     * @param preferNative the transport the listeners use ({@code runOn(loops, preferNative)})
     * @param listener binds a proxy listener (the real one's setup) for a handler, on 127.0.0.1:0
     */
    static WarmUp start(LoopResources loops, boolean preferNative, UpstreamClients upstreams, TimeSource time,
            int requests, Duration budget, int concurrency, BooleanSupplier busy,
            Function<ProxyPipeline, DisposableServer> listener) {
        return new WarmUp(loops, preferNative, upstreams, time, requests, budget, concurrency, busy, listener);
    }

    /** Completes, once the warm-up ended and released what it used, with how many exchanges were answered 200. */
    CompletableFuture<Integer> finished() {
        return finished;
    }

    /** Exchanges answered 200 so far. */
    int exchanges() {
        return ok.get();
    }

    /** Stops the warm-up if it still runs, without waiting for its release (which runs off the event loops). */
    void stop() {
        run.dispose();
    }

    /** Stops the warm-up if it still runs and waits (a few seconds at most) for its release. Blocks: not on a loop. */
    @Override
    public void close() {
        run.dispose();
        try {
            finished.get(15, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("warm-up did not release its listener in time: {}", e.toString());
        }
    }

    /** Empty at once while nothing real is in flight; otherwise after the first look that finds none. */
    private static Mono<Void> whenIdle(BooleanSupplier busy) {
        return Mono.defer(() -> busy.getAsBoolean() ? Mono.delay(PAUSE).then(Mono.<Boolean>empty()) : Mono.just(true))
                .repeatWhenEmpty(Integer.MAX_VALUE, pauses -> pauses)
                .then();
    }

    private void release() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        try {
            proxy.disposeNow(Duration.ofSeconds(5));
            pool.disposeLater().block(Duration.ofSeconds(5));
            stub.disposeNow(Duration.ofSeconds(5));
            broker.close();
            audit.close();
        } catch (RuntimeException e) {
            LOG.warn("warm-up release: {}", e.toString());
        } finally {
            LOG.info("warm-up: {} synthetic exchanges in {} ms", ok.get(), (System.nanoTime() - started) / 1_000_000);
            finished.complete(ok.get());
        }
    }

    private static byte[] body(boolean stream) {
        String filler = "lorem ipsum dolor sit amet ".repeat(24);
        return ("{\"model\":\"warm-up\"," + (stream ? "\"stream\":true," : "")
                + "\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                + "{\"role\":\"user\",\"content\":\"" + filler + "\"}]}").getBytes(StandardCharsets.UTF_8);
    }

    /** The stub upstream: a chat completion, or an SSE stream ending with a usage chunk and [DONE]. */
    private static Publisher<Void> answer(HttpServerRequest request, HttpServerResponse response) {
        return request.receive().aggregate().asString(StandardCharsets.UTF_8).defaultIfEmpty("").flatMap(body -> {
            String usage = "\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":16,\"total_tokens\":136}";
            if (!body.contains("\"stream\":true")) {
                return response.header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                        .sendString(Mono.just("{\"id\":\"chatcmpl-warm\",\"object\":\"chat.completion\",\"created\":1,"
                                + "\"model\":\"warm-up\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                                + "\"content\":\"word1 word2 word3 word4\"},\"finish_reason\":\"stop\"}]," + usage + "}"))
                        .then();
            }
            String chunk = "data: {\"id\":\"chatcmpl-warm\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                    + "\"model\":\"warm-up\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},"
                    + "\"finish_reason\":null}]}\n\n";
            String last = "data: {\"id\":\"chatcmpl-warm\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                    + "\"model\":\"warm-up\",\"choices\":[]," + usage + "}\n\n";
            return response.header(HttpHeaderNames.CONTENT_TYPE, "text/event-stream")
                    .sendString(Flux.just(chunk, chunk, chunk, chunk, last, "data: [DONE]\n\n"))
                    .then();
        });
    }

    /** One task, one key on the stub, one client: the shape of a small real configuration. */
    private static KeymuxConfig config(int stubPort) {
        String yaml = """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1 }
                upstreams:
                  warm: { base_url: "http://127.0.0.1:%d", auth: bearer }
                default_upstream: warm
                default_task: chat
                tasks:
                  - name: chat
                api_keys:
                  - { key_id: warm_a, api_key: warm-up-key-a, task_types: [chat] }
                  - { key_id: warm_b, api_key: warm-up-key-b, task_types: [chat] }
                clients:
                  - { name: warm, key: %s }
                """.formatted(stubPort, CLIENT_KEY);
        try {
            Path dir = Files.createTempDirectory("keymux-warm-up");
            Path file = dir.resolve("warm-up.yaml");
            try {
                Files.writeString(file, yaml);
                LoadResult result = ConfigLoader.load(file, List.of(), Map.of(), dir);
                KeymuxConfig config = result.config();
                if (config == null) {
                    throw new IllegalStateException("the warm-up configuration is invalid: " + result.problems());
                }
                return config;
            } finally {
                Files.deleteIfExists(file);
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the warm-up configuration", e);
        }
    }
}
