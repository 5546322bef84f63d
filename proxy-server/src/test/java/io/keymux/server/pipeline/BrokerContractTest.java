package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.ScriptedBroker;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** The pipeline keeps the KeyBroker contract: what it asks, how it settles, how it answers rejections. */
class BrokerContractTest extends KeymuxTestBase {
    private final AtomicReference<ScriptedBroker> broker = new AtomicReference<>();

    private ScriptedBroker start() {
        KeymuxConfig config = config().task("chat").defaultTask("chat")
                .key("k1", TestConfigs.POOL_KEY_1, "chat").key("k2", TestConfigs.POOL_KEY_2, "chat").build();
        keymux = KeymuxServer.builder(config).broker((c, t) -> {
            broker.set(new ScriptedBroker(c));
            return broker.get();
        }).start();
        return broker.get();
    }

    @Test
    void rateLimitedRejectionIs429WithRetryAfterRoundedUp() {
        start().reject(new Rejection(Rejection.Reason.RATE_LIMITED, Duration.ofMillis(1500),
                "all keys of task 'chat' are at their RPM limit"));
        Answer a = post("/v1/chat/completions", chatBody("m"));
        assertThat(a.status()).isEqualTo(429);
        assertThat(a.headers().get("Retry-After")).isEqualTo("2");
        assertThat(a.body()).contains("all_keys_exhausted").contains("RPM limit");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void allDisabledRejectionIs502() {
        start().reject(new Rejection(Rejection.Reason.ALL_DISABLED, Duration.ofSeconds(1), "all keys disabled"));
        Answer a = post("/v1/chat/completions", chatBody("m"));
        assertThat(a.status()).isEqualTo(502);
        assertThat(a.body()).contains("upstream_unavailable");
    }

    @Test
    void answerIsSettledOnceWithUsageAndTheRequestCarriesTheEstimate() {
        ScriptedBroker b = start().lease("k1");
        String body = "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[]}";
        assertThat(post("/v1/chat/completions", body).status()).isEqualTo(200);
        assertThat(b.requests).hasSize(1);
        assertThat(b.requests.get(0).task()).isEqualTo("chat");
        assertThat(b.requests.get(0).client()).isEqualTo("app");
        // The prompt estimate counts message text only (none here), plus max_tokens.
        assertThat(b.requests.get(0).estimatedTokens()).isEqualTo(100);
        ScriptedBroker.RecordingLease lease = b.leases.get(0);
        assertThat(lease.settlements).singleElement().isInstanceOfSatisfying(Outcome.Answered.class, o -> {
            assertThat(o.status()).isEqualTo(200);
            assertThat(o.usageKnown()).isTrue();
            assertThat(o.promptTokens()).isEqualTo(5);
            assertThat(o.completionTokens()).isEqualTo(3);
        });
    }

    @Test
    void upstream429IsSettledRateLimitedAndTheNextAcquireExcludesTheKey() {
        ScriptedBroker b = start().lease("k1").lease("k2");
        stub.enqueue(Reply.json(429, "{}").withHeader("Retry-After", "7"));
        Answer a = post("/v1/chat/completions", chatBody("m"));
        assertThat(a.status()).isEqualTo(200);
        assertThat(b.leases.get(0).settlements).containsExactly(new Outcome.RateLimited(Duration.ofSeconds(7)));
        assertThat(b.requests.get(1).excludedKeyIds()).isEqualTo(Set.of("k1"));
        assertThat(stub.recorded().get(1).headers().get("Authorization")).isEqualTo("Bearer " + TestConfigs.POOL_KEY_2);
    }

    @Test
    void noUntriedKeyAfterAServerErrorAnswersWithThatError() {
        start().lease("k1");
        stub.enqueue(Reply.json(500, "{}"));
        Answer a = post("/v1/chat/completions", chatBody("m"));
        assertThat(a.status()).isEqualTo(502);
        assertThat(a.body()).contains("upstream_unavailable");
        assertThat(broker.get().leases.get(0).settlements).containsExactly(new Outcome.ServerError(500));
    }

    @Test
    void clientDisconnectAfterContentChargesTheAnswerOnce() throws Exception {
        // SPEC 3.3: closing a stream after its content and before the usage event must not dodge the
        // budget, so the lease settles as a 2xx answered with the estimate (prompt + relayed bytes / 4).
        ScriptedBroker b = start().lease("k1");
        Sinks.Many<String> upstream = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(Reply.sse(upstream.asFlux()));
        upstream.tryEmitNext("data: one\n\n");
        client().headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send(Mono.just(Unpooled.copiedBuffer(chatBody("m"), StandardCharsets.UTF_8)))
                .response((res, body) -> body.asString().take(1))
                .blockFirst(TIMEOUT);
        Outcome settled = b.leases.get(0).settled.get(20, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(settled).isInstanceOfSatisfying(Outcome.Answered.class, a -> {
            assertThat(a.status()).isEqualTo(200);
            assertThat(a.usageKnown()).isTrue();
            assertThat(a.promptTokens()).isPositive();
            // "data: one\n\n" is 11 bytes relayed: 3 completion tokens at 4 bytes each, rounded up.
            assertThat(a.completionTokens()).isEqualTo(3);
        });
        assertThat(b.leases.get(0).settlements).hasSize(1);
    }

    @Test
    void clientDisconnectBeforeTheAnswerSettlesTheLeaseAsCancelled() throws Exception {
        ScriptedBroker b = start().lease("k1");
        java.util.concurrent.CountDownLatch arrived = new java.util.concurrent.CountDownLatch(1);
        stub.defaultReply(r -> {
            arrived.countDown();
            return Reply.hang();
        });
        reactor.core.Disposable call = client()
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY))
                .post().uri("/v1/chat/completions")
                .send(Mono.just(Unpooled.copiedBuffer(chatBody("m"), StandardCharsets.UTF_8)))
                .responseSingle((res, body) -> body.asString())
                .subscribe();
        assertThat(arrived.await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        call.dispose();
        assertThat(b.leases.get(0).settled.get(20, java.util.concurrent.TimeUnit.SECONDS))
                .isEqualTo(new Outcome.Cancelled());
    }
}
