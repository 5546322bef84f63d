package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.Await;
import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import reactor.netty.http.client.HttpClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The start-up warm-up runs its synthetic exchanges through the real request path before keymux
 * listens, and none of them reaches the configured upstream, the metrics or the audit log. The
 * admin port is open meanwhile: live, and unready until the proxy port opens.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WarmUpTest extends KeymuxTestBase {

    @Test
    void warmUpExchangesRunBeforeListeningAndLeaveNoTraceInUpstreamMetricsOrAudit() {
        try (AuditCapture audit = new AuditCapture()) {
            keymux = KeymuxServer.builder(config().build()).warmUp(300, Duration.ofSeconds(60)).start();

            assertThat(keymux.warmUpExchanges()).isEqualTo(300);
            assertThat(stub.recorded()).isEmpty();
            assertThat(keymux.metrics().scrape()).doesNotContain("keymux_requests_total{");

            stub.enqueue(UpstreamStub.Reply.json(200, UpstreamStub.CHAT_COMPLETION));
            Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));
            assertThat(answer.status()).isEqualTo(200);
            assertThat(stub.recorded()).hasSize(1);
            // Counted once the exchange has ended, just after the client got its answer: poll for it.
            Await.until("keymux_requests_total counted",
                    () -> keymux.metrics().scrape().contains("keymux_requests_total{"), Duration.ofSeconds(10));

            keymux.close();
            assertThat(audit.lines()).hasSize(1);
        }
    }

    @Test
    void duringTheWarmUpTheAdminPortIsLiveAndUnreadyThenReady() throws Exception {
        int adminPort = freePort();
        // Long enough that the probes below land inside it on a slow machine; the cap is never reached.
        CompletableFuture<KeymuxServer> started = CompletableFuture.supplyAsync(() -> KeymuxServer.builder(
                config().adminPort(adminPort).build()).warmUp(100_000_000, Duration.ofSeconds(8)).start());
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

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
