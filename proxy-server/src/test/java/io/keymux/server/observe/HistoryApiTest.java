package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Sinks;

/**
 * {@code GET /admin/history} over real sockets: known traffic (a failover on a 429, a request that
 * waits for a key) shows up in the per-key and per-task series of the last 15 minutes.
 */
class HistoryApiTest extends ObserveTestBase {

    private static final String CONFIG = """
            admin: { token: "${ADMIN_TOKEN}" }
            tasks:
              - name: chat
              - name: code
                max_wait: 20s
            api_keys:
              - key_id: k1
                api_key: ${KEY_A}
                task_types: [chat]
                cost_per_input_token: 0.001
                cost_per_output_token: 0.002
              - key_id: k2
                api_key: ${KEY_B}
                task_types: [chat]
                cost_per_input_token: 0.001
                cost_per_output_token: 0.002
              - key_id: k3
                api_key: ${KEY_C}
                task_types: [code]
                max_concurrent: 1
            clients:
              - name: app
                key: ${CLIENT_KEY}
            """;

    @Test
    void knownTrafficShowsInTheSeriesOfItsKeysAndTasks() {
        startKeymux(yaml(CONFIG));
        Instant before = Instant.now();
        stub.enqueue(Reply.json(429, "{\"error\":{\"message\":\"slow down\"}}").withHeader("Retry-After", "300"));
        Answer failedOver = chat("chat");
        assertThat(failedOver.status()).isEqualTo(200);
        assertThat(failedOver.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        String served = failedOver.headers().get("X-Keymux-Key-Id");
        String cooled = served.equals("k1") ? "k2" : "k1";
        assertThat(chat("chat").status()).isEqualTo(200);
        assertThat(chat("chat").status()).isEqualTo(200);
        awaitCounted(3);

        JsonNode h = adminJson("/admin/history");

        List<String> fields = new ArrayList<>();
        h.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("step_s", "start", "keys", "tasks");
        assertThat(h.get("step_s").asInt()).isEqualTo(10);
        Instant start = Instant.parse(h.get("start").asText());
        assertThat(start).isBetween(before.minus(Duration.ofMinutes(15)).minusSeconds(10), Instant.now()
                .minus(Duration.ofMinutes(15)).plusSeconds(10));
        assertThat(h.get("keys").fieldNames()).toIterable().containsExactly("k1", "k2", "k3");
        assertThat(h.get("tasks").fieldNames()).toIterable().containsExactly("chat", "code");
        for (JsonNode series : List.of(h.get("keys").get("k1"), h.get("tasks").get("code"))) {
            series.forEach(values -> assertThat(values.size()).isEqualTo(90));
        }
        JsonNode servedKey = h.get("keys").get(served);
        JsonNode cooledKey = h.get("keys").get(cooled);
        // Per attempt on the keys: the 429 on one, three answers on the other.
        assertThat(sum(cooledKey.get("requests"))).isEqualTo(1);
        assertThat(sum(cooledKey.get("rate_limited"))).isEqualTo(1);
        assertThat(sum(cooledKey.get("tokens"))).isZero();
        assertThat(sum(servedKey.get("requests"))).isEqualTo(3);
        assertThat(sum(servedKey.get("rate_limited"))).isZero();
        assertThat(sum(servedKey.get("failures"))).isZero();
        assertThat(sum(servedKey.get("tokens"))).isEqualTo(24);
        // 3 x (5 x 0.001 + 3 x 0.002)
        assertThat(sum(servedKey.get("cost_usd"))).isCloseTo(0.033, org.assertj.core.api.Assertions.within(1e-9));
        // Per client request on the task: the failed-over one counts once.
        JsonNode chat = h.get("tasks").get("chat");
        assertThat(sum(chat.get("requests"))).isEqualTo(3);
        assertThat(sum(chat.get("cost_usd"))).isCloseTo(0.033, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(max(chat.get("latency_p50_ms"))).isPositive();
        assertThat(max(chat.get("latency_p99_ms"))).isGreaterThanOrEqualTo(max(chat.get("latency_p50_ms")));
        assertThat(sum(h.get("keys").get("k3").get("requests"))).isZero();
    }

    @Test
    void aRequestWaitingForAKeyShowsInItsTasksQueueDepth() {
        startKeymux(yaml(CONFIG));
        // The first code request holds k3 (max_concurrent 1) until the stream is released.
        Sinks.Many<String> held = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(Reply.sse(held.asFlux()));
        CompletableFuture<Answer> first = CompletableFuture.supplyAsync(() -> chatStream("code"));
        awaitUntil(() -> stub.recorded().size() == 1, "the first request reached the upstream");
        CompletableFuture<Answer> second = CompletableFuture.supplyAsync(() -> chat("code"));

        JsonNode waiting = awaitHistory(h -> last(h.get("tasks").get("code").get("queue_depth")) == 1);
        assertThat(last(waiting.get("tasks").get("chat").get("queue_depth"))).isZero();

        held.tryEmitNext(UpstreamStub.chunkEvent("done"));
        held.tryEmitNext("data: [DONE]\n\n");
        held.tryEmitComplete();
        assertThat(first.join().status()).isEqualTo(200);
        assertThat(second.join().status()).isEqualTo(200);
        JsonNode after = awaitHistory(h -> last(h.get("tasks").get("code").get("queue_depth")) == 0
                && sum(h.get("tasks").get("code").get("requests")) == 2);
        // The step in which the second request waited is still in the window.
        assertThat(max(after.get("tasks").get("code").get("queue_depth"))).isEqualTo(1);
        assertThat(sum(after.get("keys").get("k3").get("requests"))).isEqualTo(2);
    }

    @Test
    void historyNeedsTheAdminToken() {
        startKeymux(yaml(CONFIG));
        assertThat(admin("/admin/history", null).status()).isEqualTo(401);
        assertThat(admin("/admin/history", "wrong").status()).isEqualTo(401);
    }

    private Answer chatStream(String task) {
        return post("/v1/chat/completions",
                "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer " + CLIENT, "X-Task-Type", task);
    }

    private JsonNode awaitHistory(Predicate<JsonNode> done) {
        java.util.concurrent.atomic.AtomicReference<JsonNode> last = new java.util.concurrent.atomic.AtomicReference<>();
        io.keymux.config.testing.Await.until(() -> "history to match, last: " + last.get().get("tasks"), () -> {
            last.set(adminJson("/admin/history"));
            return done.test(last.get());
        }, TIMEOUT);
        return last.get();
    }

    private static void awaitUntil(java.util.function.BooleanSupplier condition, String what) {
        io.keymux.config.testing.Await.until(what, condition, TIMEOUT);
    }

    private static double sum(JsonNode values) {
        double total = 0;
        for (JsonNode v : values) {
            total += v.asDouble();
        }
        return total;
    }

    private static double max(JsonNode values) {
        double most = 0;
        for (JsonNode v : values) {
            most = Math.max(most, v.asDouble());
        }
        return most;
    }

    private static double last(JsonNode values) {
        return values.get(values.size() - 1).asDouble();
    }
}
