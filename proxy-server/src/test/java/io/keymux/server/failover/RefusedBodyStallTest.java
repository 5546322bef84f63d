package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.RetryPolicy;
import io.keymux.config.model.Timeouts;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.keymux.server.testing.UpstreamStub;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * A refused answer (a 500 the task retries) is decided at its head: the request fails over at once
 * even when the refused body stalls, and that body is drained behind it, bounded by one idle
 * timeout (issue 25 item 5). The idle timeout here is a minute, longer than the test client waits:
 * a failover that waited for the stalled body would not answer in time.
 */
class RefusedBodyStallTest extends FailoverTestBase {

    @Test
    void aRefused500WhoseBodyStallsFailsOverWithoutWaitingForIt() {
        start(twoKeys().task(TestConfigs.TASK, t -> t.timeouts(
                new Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(60)))).build());
        stub.defaultReply(r -> keyOf(r).equals("k1")
                ? new Reply(500, Map.of("content-type", "application/json"),
                        Flux.just("{\"error\":{\"message\":\"The server had an error").concatWith(Flux.never()))
                        .headersFirst()
                : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        assertThat(keysSeen()).containsExactly("k1", "k2");
    }

    @Test
    void aRefusedBodyThatEndsIsDrainedBehindTheRetryAndItsConnectionGoesBackToThePool() {
        // A 409 the task retries: an answer to the key's health, so five of them open no circuit.
        start(twoKeys().task(TestConfigs.TASK, t -> t.retryOn(new RetryPolicy(Set.of(409), true, true))).build());
        stub.defaultReply(r -> keyOf(r).equals("k1")
                ? new Reply(409, Map.of("content-type", "application/json"),
                        Flux.just("{\"error\":{\"message\":", "\"conflict\"}}")).headersFirst()
                : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        // One client connection, so every request runs on one event loop and its one upstream pool.
        ConnectionProvider one = ConnectionProvider.create("one-connection", 1);
        try {
            HttpClient client = HttpClient.create(one).baseUrl(proxyUrl())
                    .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                            .set("Content-Type", "application/json"));
            for (int i = 0; i < 5; i++) {
                String attempts = client.post().uri("/v1/chat/completions")
                        .send(ByteBufFlux.fromString(Mono.just(chatBody("gpt-4o"))))
                        .responseSingle((res, content) -> content.then(Mono.just(res.status().code() + " "
                                + res.responseHeaders().get("X-Keymux-Attempts"))))
                        .block(Duration.ofSeconds(10));
                assertThat(attempts).isEqualTo("200 2");
            }
        } finally {
            one.disposeLater().block(Duration.ofSeconds(5));
        }
        // Each request needs two upstream connections at once (k1's refused body is read while k2
        // answers). Drained, k1's goes back to the pool and both are reused: two in all (three if a
        // drain was still under way when the next request came). Closed instead: one more per request.
        assertThat(stub.connections()).isLessThanOrEqualTo(3);
    }
}
