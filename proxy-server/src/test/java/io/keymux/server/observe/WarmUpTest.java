package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The start-up warm-up runs its synthetic exchanges through the real request path before keymux
 * listens, and none of them reaches the configured upstream, the metrics or the audit log.
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
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!keymux.metrics().scrape().contains("keymux_requests_total{") && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(keymux.metrics().scrape()).contains("keymux_requests_total{");

            keymux.close();
            assertThat(audit.lines()).hasSize(1);
        }
    }
}
