package io.keymux.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.http.client.HttpClient;

/** Lifecycle: SIGTERM behaviour without a signal (drain lets in-flight streams finish, /readyz 503), readiness, start failures. */
class DrainTest extends KeymuxTestBase {

    private int adminStatus(String path) {
        return HttpClient.create().get().uri("http://127.0.0.1:" + keymux.adminPort() + path)
                .responseSingle((res, body) -> Mono.just(res.status().code())).block(TIMEOUT);
    }

    @Test
    void inFlightStreamCompletesDuringDrainWhileReadyzIs503AndHealthzStays200() throws Exception {
        startKeymux(config().build());
        assertThat(adminStatus("/readyz")).isEqualTo(200);
        Sinks.Many<String> upstream = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(Reply.sse(upstream.asFlux()));
        upstream.tryEmitNext("data: one\n\n");

        Sinks.One<String> firstChunk = Sinks.one();
        CompletableFuture<String> whole = client()
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY))
                .post().uri("/v1/chat/completions")
                .send(Mono.just(Unpooled.copiedBuffer(chatBody("m"), StandardCharsets.UTF_8)))
                .response((res, body) -> body.asString()
                        .doOnNext(chunk -> firstChunk.tryEmitValue(chunk)))
                .collectList()
                .map(chunks -> String.join("", chunks))
                .toFuture();
        assertThat(firstChunk.asMono().block(TIMEOUT)).isEqualTo("data: one\n\n");

        CompletableFuture<Void> idle = keymux.beginDrain();
        assertThat(adminStatus("/readyz")).isEqualTo(503);
        assertThat(adminStatus("/healthz")).isEqualTo(200);
        assertThat(idle).isNotDone();

        upstream.tryEmitNext("data: two\n\n");
        upstream.tryEmitNext("data: [DONE]\n\n");
        upstream.tryEmitComplete();
        assertThat(whole.get(20, TimeUnit.SECONDS)).isEqualTo("data: one\n\ndata: two\n\ndata: [DONE]\n\n");
        idle.get(20, TimeUnit.SECONDS);
        assertThat(keymux.inFlight()).isZero();
        assertThat(keymux.drain(java.time.Duration.ofSeconds(1))).isTrue();
    }

    @Test
    void readyzBodyListsReasons() {
        startKeymux(config().task("chat").task("orphan").key("k", TestConfigs.POOL_KEY_1, "chat").build());
        String body = HttpClient.create().get().uri("http://127.0.0.1:" + keymux.adminPort() + "/readyz")
                .responseSingle((res, content) -> content.asString()).block(TIMEOUT);
        assertThat(body).isEqualTo("{\"status\":\"unready\",\"reasons\":[\"task 'orphan' has no api key"
                + " (api_keys[].task_types)\"]}");
    }

    @Test
    void readyzIsReadyWithEmptyReasons() {
        startKeymux(config().build());
        String body = HttpClient.create().get().uri("http://127.0.0.1:" + keymux.adminPort() + "/readyz")
                .responseSingle((res, content) -> content.asString()).block(TIMEOUT);
        assertThat(body).isEqualTo("{\"status\":\"ready\",\"reasons\":[]}");
    }

    @Test
    void aTakenAdminPortFailsStartWithABindError() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            io.keymux.config.model.KeymuxConfig config = config()
                    .server(s -> s.adminPort(taken.getLocalPort()).tls(null).adminTls(null)).build();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> KeymuxServer.start(config))
                    .isInstanceOf(reactor.netty.ChannelBindException.class)
                    .hasMessageContaining(Integer.toString(taken.getLocalPort()));
        }
    }
}
