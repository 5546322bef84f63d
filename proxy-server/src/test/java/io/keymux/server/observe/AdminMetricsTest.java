package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Known traffic through a stub that answers {@code usage: 5 prompt + 3 completion}, then exact
 * totals on {@code /admin/metrics}, {@code /admin/keys} and {@code /metrics}.
 */
class AdminMetricsTest extends ObserveTestBase {

    private static final String TWO_TASKS = """
            admin: { token: "${ADMIN_TOKEN}" }
            tasks:
              - name: chat
              - name: code
            api_keys:
              - key_id: k_chat
                api_key: ${KEY_A}
                task_types: [chat]
                max_rpm: 100
                max_tpm: 10000
                cost_per_input_token: 0.001
                cost_per_output_token: 0.002
              - key_id: k_code
                api_key: ${KEY_B}
                task_types: [code]
                cost_per_token: 0.0001
            clients:
              - name: app
                key: ${CLIENT_KEY}
            """;

    @Test
    void knownTrafficGivesExactTotalsOnAdminMetricsAndPrometheus() {
        startKeymux(yaml(TWO_TASKS));
        for (int i = 0; i < 3; i++) {
            assertThat(chat("chat").status()).isEqualTo(200);
        }
        assertThat(chat("code").status()).isEqualTo(200);
        assertThat(chat("code").status()).isEqualTo(200);
        // A 4xx the upstream answers is passed through: a request on the key, not a success, no usage.
        stub.enqueue(Reply.json(400, "{\"error\":{\"message\":\"bad model\"}}"));
        assertThat(chat("code").status()).isEqualTo(400);
        // Rejected by keymux before any task or key: counted with key_id "none".
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer wrong").status())
                .isEqualTo(401);
        awaitCounted(7);

        JsonNode m = adminJson("/admin/metrics");
        List<String> fields = new ArrayList<>();
        m.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("total_cost", "total_requests", "overall_success_rate", "key_metrics",
                "cost_analysis", "task_distribution");
        // chat: 3 x (5 x 0.001 + 3 x 0.002) = 0.033; code: 2 x 8 x 0.0001 = 0.0016
        assertThat(m.get("total_cost").asDouble()).isEqualTo(0.0346);
        assertThat(m.get("total_requests").asLong()).isEqualTo(6);
        assertThat(m.get("overall_success_rate").asDouble()).isCloseTo(500.0 / 6, within(0.001));
        JsonNode chatKey = m.get("key_metrics").get("k_chat");
        List<String> keyFields = new ArrayList<>();
        chatKey.fieldNames().forEachRemaining(keyFields::add);
        assertThat(keyFields).containsExactly("total_requests", "success_rate", "average_response_time",
                "current_rpm", "current_tpm", "total_tokens", "total_cost", "status");
        assertThat(chatKey.get("total_requests").asLong()).isEqualTo(3);
        assertThat(chatKey.get("success_rate").asDouble()).isEqualTo(100.0);
        assertThat(chatKey.get("average_response_time").asDouble()).isPositive();
        assertThat(chatKey.get("current_rpm").asLong()).isEqualTo(3);
        assertThat(chatKey.get("current_tpm").asLong()).isEqualTo(24);
        assertThat(chatKey.get("total_tokens").asLong()).isEqualTo(24);
        assertThat(chatKey.get("total_cost").asDouble()).isEqualTo(0.033);
        assertThat(chatKey.get("status").asText()).isEqualTo("active");
        JsonNode codeKey = m.get("key_metrics").get("k_code");
        assertThat(codeKey.get("total_requests").asLong()).isEqualTo(3);
        assertThat(codeKey.get("success_rate").asDouble()).isCloseTo(200.0 / 3, within(0.001));
        assertThat(codeKey.get("total_tokens").asLong()).isEqualTo(16);
        assertThat(m.get("cost_analysis").get("k_chat").asDouble()).isEqualTo(0.033);
        assertThat(m.get("cost_analysis").get("k_code").asDouble()).isEqualTo(0.0016);
        assertThat(m.get("task_distribution").get("chat").get("k_chat").asLong()).isEqualTo(3);
        assertThat(m.get("task_distribution").get("code").get("k_code").asLong()).isEqualTo(3);
        assertThat(m.get("task_distribution").get("chat").has("k_code")).isFalse();

        String text = scrape();
        assertThat(sample(text, "keymux_requests_total{key_id=\"k_chat\",status=\"200\",task=\"chat\"}")).isEqualTo(3.0);
        assertThat(sample(text, "keymux_requests_total{key_id=\"k_code\",status=\"200\",task=\"code\"}")).isEqualTo(2.0);
        assertThat(sample(text, "keymux_requests_total{key_id=\"k_code\",status=\"400\",task=\"code\"}")).isEqualTo(1.0);
        assertThat(sample(text, "keymux_requests_total{key_id=\"none\",status=\"401\",task=\"none\"}")).isEqualTo(1.0);
        assertThat(sample(text, "keymux_tokens_total{key_id=\"k_chat\",kind=\"prompt\",task=\"chat\"}")).isEqualTo(15.0);
        assertThat(sample(text, "keymux_tokens_total{key_id=\"k_chat\",kind=\"completion\",task=\"chat\"}")).isEqualTo(9.0);
        assertThat(sample(text, "keymux_tokens_total{key_id=\"k_code\",kind=\"prompt\",task=\"code\"}")).isEqualTo(10.0);
        assertThat(sample(text, "keymux_cost_usd_total{client=\"app\",key_id=\"k_chat\",task=\"chat\"}"))
                .isCloseTo(0.033, within(1e-12));
        assertThat(sample(text, "keymux_cost_usd_total{client=\"app\",key_id=\"k_code\",task=\"code\"}"))
                .isCloseTo(0.0016, within(1e-12));
        assertThat(sample(text, "keymux_upstream_latency_seconds_count{key_id=\"k_chat\",task=\"chat\"}")).isEqualTo(3.0);
        assertThat(sample(text, "keymux_queue_wait_seconds_count{task=\"chat\"}")).isEqualTo(3.0);
        assertThat(sample(text, "keymux_key_state{key_id=\"k_chat\",state=\"active\"}")).isEqualTo(1.0);
        assertThat(sample(text, "keymux_key_state{key_id=\"k_chat\",state=\"cooling_down\"}")).isEqualTo(0.0);
        assertThat(text).contains("keymux_upstream_latency_seconds_bucket{").doesNotContain("keymux_redis_up");
        assertThat(sample(text, "keymux_audit_dropped_total")).isEqualTo(0.0);
    }

    @Test
    void aFailedOverRequestCountsOnceInTotalRequestsAndOnEachKeyItTried() {
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                tasks:
                  - name: chat
                api_keys:
                  - key_id: k1
                    api_key: ${KEY_A}
                    task_types: [chat]
                  - key_id: k2
                    api_key: ${KEY_B}
                    task_types: [chat]
                clients:
                  - name: app
                    key: ${CLIENT_KEY}
                """));
        stub.enqueue(Reply.json(429, "{\"error\":{\"message\":\"slow down\"}}").withHeader("Retry-After", "300"));
        Answer failedOver = chat("chat");
        assertThat(failedOver.status()).isEqualTo(200);
        assertThat(failedOver.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        assertThat(chat("chat").status()).isEqualTo(200);
        awaitCounted(2);

        JsonNode m = adminJson("/admin/metrics");

        // Two client requests, both answered 200; three attempts on the keys (one of them a 429).
        assertThat(m.get("total_requests").asLong()).isEqualTo(2);
        assertThat(m.get("overall_success_rate").asDouble()).isEqualTo(100.0);
        long attempts = m.get("key_metrics").get("k1").get("total_requests").asLong()
                + m.get("key_metrics").get("k2").get("total_requests").asLong();
        assertThat(attempts).isEqualTo(3);
        String cooled = failedOver.headers().get("X-Keymux-Key-Id").equals("k1") ? "k2" : "k1";
        assertThat(m.get("key_metrics").get(cooled).get("total_requests").asLong()).isEqualTo(1);
        assertThat(m.get("key_metrics").get(cooled).get("success_rate").asDouble()).isZero();
    }

    @Test
    void prometheusIsServedAsTextFormat004() {
        startKeymux(yaml(TWO_TASKS));
        Answer answer = admin("/metrics", null);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.headers().get("Content-Type")).isEqualTo("text/plain; version=0.0.4; charset=utf-8");
        assertThat(answer.body()).contains("# TYPE keymux_key_state gauge");
    }

    @Test
    void aRateLimitedKeyShowsCoolingDownWithItsReturnTimeOnAdminKeys() {
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                tasks:
                  - name: chat
                api_keys:
                  - key_id: k1
                    api_key: ${KEY_A}
                    task_types: [chat]
                    max_rpm: 60
                    max_tpm: 6000
                    max_concurrent: 4
                    cost_per_token: 0.001
                  - key_id: k2
                    api_key: ${KEY_B}
                    task_types: [chat]
                clients:
                  - name: app
                    key: ${CLIENT_KEY}
                """));
        stub.enqueue(Reply.json(429, "{\"error\":{\"message\":\"slow down\"}}").withHeader("Retry-After", "120"));
        Instant before = Instant.now();

        Answer answer = chat("chat");

        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        String served = answer.headers().get("X-Keymux-Key-Id");
        String cooled = served.equals("k1") ? "k2" : "k1";
        awaitCounted(1);
        JsonNode keys = adminJson("/admin/keys").get("keys");
        assertThat(keys).hasSize(2);
        JsonNode k1 = keys.get(0);
        List<String> fields = new ArrayList<>();
        k1.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("key_id", "upstream", "task_types", "status", "limits", "usage",
                "cooldown_until", "spend_today");
        assertThat(k1.get("key_id").asText()).isEqualTo("k1");
        assertThat(k1.get("upstream").asText()).isEqualTo("stub");
        assertThat(k1.get("task_types").get(0).asText()).isEqualTo("chat");
        assertThat(k1.get("limits").get("rpm").asLong()).isEqualTo(60);
        assertThat(k1.get("limits").get("tpm").asLong()).isEqualTo(6000);
        assertThat(k1.get("limits").get("concurrent").asInt()).isEqualTo(4);
        JsonNode k2 = keys.get(1);
        assertThat(k2.get("limits").get("rpm").isNull()).isTrue();
        assertThat(k2.get("limits").get("tpm").isNull()).isTrue();
        assertThat(k2.get("limits").get("concurrent").isNull()).isTrue();

        JsonNode cooling = cooled.equals("k1") ? k1 : k2;
        JsonNode active = cooled.equals("k1") ? k2 : k1;
        assertThat(cooling.get("status").asText()).isEqualTo("cooling_down");
        String until = cooling.get("cooldown_until").asText();
        assertThat(until).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
        assertThat(Duration.between(before, Instant.parse(until)).toSeconds()).isBetween(110L, 130L);
        assertThat(cooling.get("usage").get("rpm").asLong()).isEqualTo(1);
        assertThat(active.get("status").asText()).isEqualTo("active");
        assertThat(active.get("cooldown_until").isNull()).isTrue();
        assertThat(active.get("usage").get("rpm").asLong()).isEqualTo(1);
        assertThat(active.get("usage").get("tpm").asLong()).isEqualTo(8);
        assertThat(active.get("usage").get("in_flight").asInt()).isZero();
        assertThat(active.get("spend_today").asDouble()).isEqualTo(active == k1 ? 0.008 : 0.0);

        String text = scrape();
        assertThat(sample(text, "keymux_key_state{key_id=\"" + cooled + "\",state=\"cooling_down\"}")).isEqualTo(1.0);
        assertThat(sample(text, "keymux_key_state{key_id=\"" + cooled + "\",state=\"active\"}")).isEqualTo(0.0);
        assertThat(sample(text, "keymux_requests_total{key_id=\"" + served + "\",status=\"200\",task=\"chat\"}"))
                .isEqualTo(1.0);
        JsonNode metrics = adminJson("/admin/metrics");
        assertThat(metrics.get("key_metrics").get(cooled).get("status").asText()).isEqualTo("cooling_down");
        // One client request (SPEC.md section 5: a failed-over one counts once), answered 200.
        assertThat(metrics.get("total_requests").asLong()).isEqualTo(1);
        assertThat(metrics.get("overall_success_rate").asDouble()).isEqualTo(100.0);
    }

    @Test
    void everyAnswerCarriesKeymuxOverheadInMilliseconds() {
        startKeymux(yaml(TWO_TASKS));
        Answer ok = chat("chat");
        Answer refused = post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer wrong");

        assertThat(ok.headers().get("X-Keymux-Overhead-Ms")).matches("\\d+\\.\\d{3}");
        assertThat(refused.headers().get("X-Keymux-Overhead-Ms")).matches("\\d+\\.\\d{3}");
    }
}
