package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.Await;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyStatus;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.keymux.server.testing.UpstreamStub;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;

/**
 * Clients that hang up are not the key's fault: an upstream exchange cut short because the client
 * went away is settled as cancelled, so it never counts towards the key's circuit. (Found by the
 * load benchmark: the aborted requests at the end of a wrk run opened the only key's circuit, and
 * the next requests waited out max_wait.)
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClientHangUpTest extends FailoverTestBase {

    @Test
    void clientsHangingUpMidAnswerNeverOpenTheKeysCircuit() throws Exception {
        start(setup().key(chatKey("k1", TestConfigs.POOL_KEY_1, "stub", 1))
                .health(h -> h.failureThreshold(2).circuitCooldown(Duration.ofMinutes(5))
                        .rateLimitCooldown(Duration.ofSeconds(60)))
                .build());
        // The answer's first chunk comes late: each client has hung up by then, while keymux still
        // holds the answer back waiting for it.
        stub.defaultReply(r -> Reply.sse(Flux.interval(Duration.ofMillis(300), Duration.ofMillis(10))
                .map(i -> "data: {\"choices\":[{\"delta\":{\"content\":\"t" + i + "\"}}]}\n\n")
                .take(40)));

        for (int i = 0; i < 4; i++) {
            sendThenHangUpOnceForwarded(i + 1);
        }

        // Settled asynchronously once keymux notices each hang-up: wait until nothing is in flight.
        Await.until("nothing in flight", () -> state().usage().inFlight() == 0, Duration.ofSeconds(10));
        assertThat(state().usage().inFlight()).isZero();
        assertThat(state().state()).isEqualTo(KeyStatus.State.ACTIVE);

        stub.defaultReply(r -> Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        var answer = sdk().chat().completions().withRawResponse().create(params());
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.headers().values("X-Keymux-Attempts")).containsExactly("1");
    }

    @Test
    void aBurstOfClientsGivingUpMidFlightLeavesTheKeyActive() {
        start(setup().key(chatKey("k1", TestConfigs.POOL_KEY_1, "stub", 1))
                .health(h -> h.failureThreshold(2).circuitCooldown(Duration.ofMinutes(5))
                        .rateLimitCooldown(Duration.ofSeconds(60)))
                .build());
        // Answers arrive between 10 and 90 ms; every client gives up at 50 ms, as a load generator
        // does when its run ends with requests in flight.
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        stub.defaultReply(r -> Reply.sse(Flux.just("data: {\"choices\":[{\"delta\":{\"content\":\"t\"}}]}\n\n",
                "data: [DONE]\n\n").delaySubscription(Duration.ofMillis(10 + (n.getAndIncrement() * 7) % 80))));
        reactor.netty.http.client.HttpClient client = reactor.netty.http.client.HttpClient.create()
                .baseUrl("http://127.0.0.1:" + keymux.proxyPort())
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"));
        String body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        Flux.range(0, 200)
                .flatMap(i -> client.post().uri("/v1/chat/completions")
                        .send(reactor.netty.ByteBufFlux.fromString(reactor.core.publisher.Mono.just(body)))
                        .responseContent().aggregate().asString()
                        .timeout(Duration.ofMillis(50))
                        .onErrorResume(e -> reactor.core.publisher.Mono.empty()), 64)
                .blockLast(Duration.ofSeconds(30));

        Await.until("nothing in flight", () -> state().usage().inFlight() == 0, Duration.ofSeconds(10));
        assertThat(state().state()).isEqualTo(KeyStatus.State.ACTIVE);
        stub.defaultReply(r -> Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        var answer = sdk().chat().completions().withRawResponse().create(params());
        assertThat(answer.headers().values("X-Keymux-Attempts")).containsExactly("1");
    }

    private KeyStatus state() {
        return Objects.requireNonNull(broker).keyStates().get(0);
    }

    /** Sends a request, waits until the stub has it (the exchange is under way), then hangs up. */
    private void sendThenHangUpOnceForwarded(int expectedAtStub) throws IOException {
        String body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        try (Socket socket = new Socket("127.0.0.1", keymux.proxyPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: keymux\r\nAuthorization: Bearer "
                    + TestConfigs.CLIENT_KEY + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            Await.until("the stub to see " + expectedAtStub + " requests",
                    () -> stub.recorded().size() >= expectedAtStub, Duration.ofSeconds(10));
            assertThat(stub.recorded()).hasSize(expectedAtStub);
            // A plain close (FIN), as load generators and browsers do when they give up.
            socket.close();
        }
    }
}
