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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * Compiles the request path before keymux listens: synthetic exchanges (JSON and SSE chat
 * completions, with {@code include_usage} injection) run through a real {@link ProxyPipeline}, on
 * the real event loops, upstream pools and listener setup, against an in-process stub upstream on
 * 127.0.0.1. Its own configuration, key broker, metrics and a discarding audit log: nothing of the
 * warm-up reaches the real keys, {@code /metrics} or the audit line. A cold JVM on one CPU needs tens
 * of thousands of exchanges before C2 has compiled the path; they happen here, before
 * {@code /readyz} can answer 200, instead of on the first real clients.
 */
final class WarmUp {
    private static final Logger LOG = LoggerFactory.getLogger(WarmUp.class);
    private static final String CLIENT_KEY = "warm-up-client";
    private static final int CONCURRENCY = 16;

    private WarmUp() {}

    /**
     * Runs up to {@code requests} exchanges, for at most {@code budget}.
     *
     * @return how many of them were answered 200
     * @param preferNative the transport the listeners use ({@code runOn(loops, preferNative)})
     * @param listener binds a proxy listener (the real one's setup) for a handler, on 127.0.0.1:0
     */
    static int run(LoopResources loops, boolean preferNative, UpstreamClients upstreams, TimeSource time, int requests,
            Duration budget, Function<ProxyPipeline, DisposableServer> listener) {
        long started = System.nanoTime();
        DisposableServer stub = HttpServer.create().runOn(loops, preferNative).host("127.0.0.1").port(0)
                .handle(WarmUp::answer)
                .bindNow();
        KeymuxConfig config = config(stub.port());
        KeyBroker broker = new QueueLimitedBroker(SharedLimitBroker.create(config, time), config);
        AuditLog audit = AuditLog.discarding();
        ProxyPipeline pipeline = new ProxyPipeline(config, broker, upstreams, time, new InFlight(), new ProxyMetrics(),
                audit);
        DisposableServer proxy = listener.apply(pipeline);
        ConnectionProvider pool = ConnectionProvider.create("keymux-warm-up", CONCURRENCY);
        AtomicInteger ok = new AtomicInteger();
        try {
            HttpClient client = HttpClient.create(pool).runOn(loops, preferNative)
                    .baseUrl("http://127.0.0.1:" + proxy.port())
                    .headers(h -> h.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + CLIENT_KEY)
                            .set(HttpHeaderNames.CONTENT_TYPE, "application/json"));
            byte[] json = body(false);
            byte[] sse = body(true);
            Flux.range(0, requests)
                    .flatMap(i -> client.post().uri("/v1/chat/completions")
                            .send(Mono.fromSupplier(() -> io.netty.buffer.Unpooled.wrappedBuffer(i % 4 == 3 ? sse : json)))
                            .responseSingle((response, content) -> content.asByteArray().defaultIfEmpty(new byte[0])
                                    .doOnNext(b -> {
                                        if (response.status().code() == 200) {
                                            ok.incrementAndGet();
                                        }
                                    }))
                            .onErrorResume(e -> Mono.empty()), CONCURRENCY)
                    .take(budget)
                    .then()
                    .block(budget.plusSeconds(10));
        } catch (RuntimeException e) {
            // A warm-up that fails only costs speed: serve cold rather than not at all.
            LOG.warn("warm-up stopped early: {}", e.toString());
        } finally {
            proxy.disposeNow(Duration.ofSeconds(5));
            pool.disposeLater().block(Duration.ofSeconds(5));
            stub.disposeNow(Duration.ofSeconds(5));
            broker.close();
            audit.close();
        }
        LOG.info("warm-up: {} synthetic exchanges in {} ms", ok.get(), (System.nanoTime() - started) / 1_000_000);
        return ok.get();
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
