package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.Await;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;

/**
 * The start-up warm-up runs its synthetic exchanges through the real request path, and none of them
 * reaches the configured upstream, the metrics or the audit log. By default it runs while keymux
 * serves (ready at once), starting an exchange only while no real request is in flight; asked to run
 * first, it runs before the proxy port opens, with the admin port live and unready meanwhile.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WarmUpTest extends KeymuxTestBase {

    @Test
    void warmUpExchangesLeaveNoTraceInUpstreamMetricsOrAudit() throws Exception {
        try (AuditCapture audit = new AuditCapture()) {
            keymux = KeymuxServer.builder(config().build()).warmUp(300, Duration.ofSeconds(60)).start();

            assertThat(keymux.warmUpFinished().get(60, TimeUnit.SECONDS)).isEqualTo(300);
            assertThat(stub.recorded()).isEmpty();
            assertThat(keymux.metrics().scrape()).doesNotContain("keymux_requests_total{");

            stub.enqueue(UpstreamStub.Reply.json(200, UpstreamStub.CHAT_COMPLETION));
            Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));
            assertThat(answer.status()).isEqualTo(200);
            assertThat(stub.recorded()).hasSize(1);
            // Counted once the exchange has ended, just after the client got its answer: poll for it.
            Await.until("the request is counted", () -> keymux.metrics().scrape().contains("keymux_requests_total{"),
                    Duration.ofSeconds(10));

            keymux.close();
            assertThat(audit.lines()).hasSize(1);
        }
    }

    @Test
    void duringAWarmUpFirstTheAdminPortIsLiveAndUnreadyThenReady() throws Exception {
        int adminPort = freePort();
        // Long enough that the probes below land inside it on a slow machine; the cap is never reached.
        CompletableFuture<KeymuxServer> started = CompletableFuture.supplyAsync(() -> KeymuxServer.builder(
                config().server(s -> s.adminPort(adminPort)).build()).warmUp(100_000_000, Duration.ofSeconds(8))
                .warmUpBeforeListening().start());
        try {
            HttpClient admin = HttpClient.create().baseUrl("http://127.0.0.1:" + adminPort);
            Integer[] healthz = {null};
            // Refused until the admin listener is bound (a few hundred ms into the start).
            Await.until("the admin port to answer /healthz", () -> (healthz[0] = admin.get().uri("/healthz").response()
                    .map(r -> r.status().code()).onErrorResume(e -> reactor.core.publisher.Mono.empty())
                    .block(TIMEOUT)) != null, Duration.ofSeconds(8));
            Integer health = healthz[0];
            String readyz = admin.get().uri("/readyz").responseSingle((r, body) -> body.asString()
                    .map(b -> r.status().code() + " " + b)).block(TIMEOUT);
            boolean stillWarming = !started.isDone();

            assertThat(health).isEqualTo(200);
            assertThat(stillWarming).as("the probes ran inside the warm-up").isTrue();
            assertThat(readyz).startsWith("503 ").contains("\"unready\"").contains("warming up");

            keymux = started.get(60, TimeUnit.SECONDS);
            assertThat(keymux.warmUpExchanges()).isPositive();
            assertThat(admin.get().uri("/readyz").response().map(r -> r.status().code()).block(TIMEOUT))
                    .isEqualTo(200);
        } finally {
            if (keymux == null) {
                started.get(60, TimeUnit.SECONDS).close();
            }
        }
    }

    @Test
    void whileServingKeymuxIsReadyAtOnceAndTheWarmUpWaitsWhileARealRequestIsInFlight() throws Exception {
        keymux = KeymuxServer.builder(config().build()).warmUp(100_000_000, Duration.ofSeconds(30)).start();
        HttpClient admin = HttpClient.create().baseUrl("http://127.0.0.1:" + keymux.adminPort());
        assertThat(admin.get().uri("/readyz").response().map(r -> r.status().code()).block(TIMEOUT)).isEqualTo(200);
        Await.until("the warm-up runs", () -> keymux.warmUpExchanges() > 50, Duration.ofSeconds(20));

        // A real stream the upstream holds open: a request in flight for as long as the test wants.
        Sinks.Many<String> events = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(UpstreamStub.Reply.sse(events.asFlux()));
        CompletableFuture<String> stream = client()
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send(ByteBufFlux.fromString(Mono.just(streamBody())))
                .responseContent().aggregate().asString().toFuture();
        Await.until("the real request reached the upstream", () -> stub.recorded().size() == 1, Duration.ofSeconds(20));
        events.tryEmitNext(UpstreamStub.chunkEvent("held"));
        int before = keymux.warmUpExchanges();
        // The window in which a warm-up that did not wait would run hundreds of exchanges; only those
        // already started when the real request came may finish in it.
        Thread.sleep(500);
        int during = keymux.warmUpExchanges();
        assertThat(during - before).as("warm-up exchanges while a real request was in flight")
                .isLessThanOrEqualTo(2);
        assertThat(keymux.warmUpFinished()).isNotDone();

        events.tryEmitNext("data: [DONE]\n\n");
        events.tryEmitComplete();
        assertThat(stream.get(20, TimeUnit.SECONDS)).contains("held");
        Await.until("the warm-up goes on once nothing real is in flight",
                () -> keymux.warmUpExchanges() > during + 50, Duration.ofSeconds(20));
        assertThat(stub.recorded()).hasSize(1);
    }

    private static String streamBody() {
        return "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
