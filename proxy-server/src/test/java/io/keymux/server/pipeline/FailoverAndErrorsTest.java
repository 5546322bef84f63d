package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.Timeouts;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** Failover before the first byte, keymux's own errors, and the body limit. */
class FailoverAndErrorsTest extends KeymuxTestBase {

    private TestConfigs twoKeys() {
        return config().task("chat").defaultTask("chat")
                .key("k1", TestConfigs.POOL_KEY_1, "chat")
                .key("k2", TestConfigs.POOL_KEY_2, "chat");
    }

    @Test
    void rateLimitedKeyFailsOverToAnotherKey() {
        startKeymux(twoKeys().build());
        stub.enqueue(Reply.json(429, "{\"error\":{\"message\":\"slow down\"}}").withHeader("Retry-After", "7"));
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        List<String> keys = stub.recorded().stream().map(r -> r.headers().get("Authorization")).toList();
        assertThat(keys).hasSize(2).doesNotHaveDuplicates();
        assertThat(a.headers().get("X-Keymux-Key-Id")).isIn("k1", "k2");
    }

    @Test
    void everyAttemptRateLimitedGivesKeymuxs429WithRetryAfterNeverTheUpstreamBody() {
        startKeymux(twoKeys().build());
        stub.defaultReply(r -> Reply.json(429, "{\"upstream\":\"own body\"}").withHeader("Retry-After", "3"));
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(429);
        assertThat(a.body()).contains("all_keys_exhausted").doesNotContain("own body");
        assertThat(a.headers().get("Retry-After")).isEqualTo("3");
        assertThat(stub.recorded()).hasSize(2);
    }

    @Test
    void serverErrorsEverywhereGive502() {
        startKeymux(twoKeys().build());
        stub.defaultReply(r -> Reply.json(503, "{}"));
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(502);
        assertThat(a.body()).contains("upstream_unavailable");
    }

    @Test
    void upstreamUnauthorizedFailsOverToTheNextKey() {
        startKeymux(twoKeys().build());
        stub.enqueue(Reply.json(401, "{}"));
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.headers().get("X-Keymux-Attempts")).isEqualTo("2");
    }

    @Test
    void otherClientErrorsPassThroughUnchanged() {
        startKeymux(twoKeys().build());
        stub.enqueue(Reply.json(400, "{\"error\":{\"message\":\"bad model\"}}"));
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).isEqualTo("{\"error\":{\"message\":\"bad model\"}}");
        assertThat(stub.recorded()).hasSize(1);
    }

    @Test
    void connectionRefusedGives502() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        startKeymux(config().upstream(TestConfigs.UPSTREAM, URI.create("http://127.0.0.1:" + closedPort), AuthStyle.BEARER)
                .build());
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(502);
        assertThat(a.body()).contains("upstream_unavailable");
        assertThat(a.headers().get("Content-Type")).isEqualTo("application/json");
    }

    @Test
    void firstByteTimeoutGives504() {
        startKeymux(config().task(TestConfigs.TASK, t -> t.timeouts(new Timeouts(Duration.ofSeconds(5),
                Duration.ofMillis(300), Duration.ofSeconds(5))).maxAttempts(1)).defaultTask(TestConfigs.TASK).build());
        stub.defaultReply(r -> Reply.hang());
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(504);
        assertThat(a.body()).contains("upstream_timeout");
    }

    @Test
    void idleTimeoutMidStreamEndsWithAnSseErrorEvent() {
        startKeymux(config().task(TestConfigs.TASK, t -> t.timeouts(new Timeouts(Duration.ofSeconds(5),
                Duration.ofSeconds(5), Duration.ofMillis(300)))).defaultTask(TestConfigs.TASK).build());
        Sinks.Many<String> upstream = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(Reply.sse(upstream.asFlux()));
        upstream.tryEmitNext("data: one\n\n");
        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.body()).startsWith("data: one\n\n").contains("data: {\"error\"").contains("upstream_timeout");
        assertThat(stub.recorded()).hasSize(1);
    }

    @Test
    void declaredContentLengthOverTheLimitIs413() {
        startKeymux(config().server(s -> s.maxBodyBytes(100)).build());
        Answer a = post("/v1/chat/completions", "x".repeat(101));
        assertThat(a.status()).isEqualTo(413);
        assertThat(a.body()).contains("body_too_large");
        assertThat(a.headers().get("Connection")).isEqualTo("close");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void chunkedBodyOverTheLimitIs413() {
        startKeymux(config().server(s -> s.maxBodyBytes(1000)).build());
        Answer a = client()
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY))
                .post()
                .uri("/v1/chat/completions")
                // 1200 bytes, then the request stays open: keymux answers 413 after reading past the
                // limit, and no unread bytes sit in its socket buffer to turn its close into a reset
                // that would destroy the answer before the client reads it.
                .send(Flux.concat(Flux.range(0, 12).map(i -> io.netty.buffer.Unpooled.copiedBuffer("y".repeat(100),
                        StandardCharsets.UTF_8)), Mono.never()))
                .responseSingle((res, body) -> body.asString().defaultIfEmpty("")
                        .map(s -> new Answer(res.status().code(), res.responseHeaders(), s)))
                .block(TIMEOUT);
        assertThat(a.status()).isEqualTo(413);
        assertThat(a.body()).contains("body_too_large");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void bodyAtTheLimitIsForwardedWhole() {
        startKeymux(config().server(s -> s.maxBodyBytes(1000)).build());
        String body = "{\"model\":\"m\",\"pad\":\"" + "z".repeat(1000 - 22) + "\"}";
        assertThat(body).hasSize(1000);
        assertThat(post("/v1/chat/completions", body).status()).isEqualTo(200);
        assertThat(stub.last().bodyText()).isEqualTo(body);
    }

    @Test
    void clientDisconnectCancelsTheUpstreamExchange() {
        startKeymux(config().build());
        Sinks.Empty<Void> upstreamClosed = Sinks.empty();
        Sinks.Many<String> upstream = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(Reply.sse(upstream.asFlux().doOnCancel(upstreamClosed::tryEmitEmpty)));
        upstream.tryEmitNext("data: one\n\n");
        String first = client()
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY))
                .post().uri("/v1/chat/completions")
                .send(Mono.just(io.netty.buffer.Unpooled.copiedBuffer(chatBody("m"), StandardCharsets.UTF_8)))
                .response((res, body) -> body.asString().take(1))
                .blockFirst(TIMEOUT);
        assertThat(first).isEqualTo("data: one\n\n");
        // take(1) cancelled the client exchange; keymux must cancel the upstream stream in turn.
        upstreamClosed.asMono().block(TIMEOUT);
    }
}
