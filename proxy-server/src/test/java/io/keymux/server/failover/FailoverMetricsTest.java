package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.time.TimeSource;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.pipeline.InFlight;
import io.keymux.server.pipeline.ProxyPipeline;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.keymux.server.upstream.UpstreamClients;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

/**
 * {@code keymux_failovers_total{task,reason}} counts every retried attempt under its {@code retry_on}
 * name, and none for the last attempt. The pipeline is served on its own here so the test can read
 * the {@link ProxyMetrics} it was given.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FailoverMetricsTest extends FailoverTestBase {
    private final ProxyMetrics metrics = new ProxyMetrics();
    private LoopResources loops;
    private UpstreamClients upstreams;
    private KeyBroker ownBroker;
    private DisposableServer server;
    private AuditLog audit;

    private void serve(KeymuxConfig config) {
        loops = LoopResources.create("failover-metrics", 2, true);
        upstreams = new UpstreamClients(loops);
        ownBroker = KeyBroker.create(config, TimeSource.system());
        audit = new AuditLog(1000);
        ProxyPipeline pipeline = new ProxyPipeline(config, ownBroker, upstreams, TimeSource.system(), new InFlight(),
                metrics, audit);
        server = HttpServer.create().runOn(loops).host("127.0.0.1").port(0).handle(pipeline).bindNow();
    }

    @AfterEach
    void stopPipeline() {
        server.disposeNow(Duration.ofSeconds(5));
        upstreams.close();
        ownBroker.close();
        audit.close();
        loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
    }

    private record Seen(int status, HttpHeaders headers) {}

    private Seen post() {
        return HttpClient.create().baseUrl("http://127.0.0.1:" + server.port())
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send((req, out) -> out.sendString(Mono.just(KeymuxTestBase.chatBody("gpt-4o"))))
                .responseSingle((res, body) -> body.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(b -> new Seen(res.status().code(), res.responseHeaders())))
                .block(TIMEOUT);
    }

    @Test
    void everyRetriedAttemptIsCountedUnderItsReason() {
        serve(setup().key(chatKey("k1", TestConfigs.POOL_KEY_1, "stub", 4))
                .key(chatKey("k2", TestConfigs.POOL_KEY_2, "stub", 3))
                .key(chatKey("k3", "sk-pool-key-3", "stub", 2)).build());

        stub.enqueue(Reply.json(429, "{}").withHeader("Retry-After", "60"));
        assertThat(post().headers().get("X-Keymux-Attempts")).isEqualTo("2"); // k1 429, k2 answers
        stub.enqueue(Reply.json(500, "{}"));
        assertThat(post().headers().get("X-Keymux-Attempts")).isEqualTo("2"); // k2 500, k3 answers
        stub.enqueue(Reply.json(401, "{}"));
        assertThat(post().headers().get("X-Keymux-Attempts")).isEqualTo("2"); // k2 401, k3 answers

        assertThat(metrics.scrape())
                .contains("keymux_failovers_total{reason=\"429\",task=\"chat\"} 1.0")
                .contains("keymux_failovers_total{reason=\"500\",task=\"chat\"} 1.0")
                .contains("keymux_failovers_total{reason=\"401\",task=\"chat\"} 1.0");
    }

    @Test
    void theLastAttemptIsNotAFailover() {
        serve(twoKeys().task(TestConfigs.TASK, t -> t.maxAttempts(2)).build());
        stub.defaultReply(r -> Reply.json(503, "{}"));

        Seen seen = post();

        assertThat(seen.status()).isEqualTo(502);
        assertThat(seen.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        assertThat(metrics.scrape()).contains("keymux_failovers_total{reason=\"503\",task=\"chat\"} 1.0");
    }
}
