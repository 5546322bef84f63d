package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** One JSON audit line per request with SPEC.md section 6's fields in order, rejected requests included. */
class AuditLineTest extends ObserveTestBase {

    @Test
    void everyRequestGetsOneLineWithTheSpecFieldsInOrder() {
        List<String> lines;
        try (AuditCapture audit = new AuditCapture()) {
            startKeymux(yaml("""
                    tasks:
                      - name: chat
                    api_keys:
                      - key_id: k1
                        api_key: ${KEY_A}
                        task_types: [chat]
                        cost_per_input_token: 0.001
                        cost_per_output_token: 0.002
                    clients:
                      - name: app
                        key: ${CLIENT_KEY}
                    """));
            post("/v1/chat/completions?key=" + KEY_B, chatBody("gpt-4o"), "Authorization", "Bearer " + CLIENT,
                    "X-Task-Type", "chat", "X-Request-Id", "audit-ok");
            post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer wrong",
                    "X-Request-Id", "audit-401");
            post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + CLIENT,
                    "X-Task-Type", "nope", "X-Request-Id", "audit-400");
            awaitCounted(3);
            keymux.close(); // flushes the audit writer
            lines = audit.lines();
        }

        assertThat(lines).hasSize(3);
        JsonNode ok = lineFor(lines, "audit-ok");
        List<String> names = new java.util.ArrayList<>();
        ok.fieldNames().forEachRemaining(names::add);
        assertThat(names).containsExactly("ts", "request_id", "client", "task", "key_id", "upstream", "method",
                "path", "status", "attempts", "latency_ms", "ttfb_ms", "prompt_tokens", "completion_tokens",
                "cost_usd", "cache");
        assertThat(ok.get("ts").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
        assertThat(ok.get("client").asText()).isEqualTo("app");
        assertThat(ok.get("task").asText()).isEqualTo("chat");
        assertThat(ok.get("key_id").asText()).isEqualTo("k1");
        assertThat(ok.get("upstream").asText()).isEqualTo("stub");
        assertThat(ok.get("method").asText()).isEqualTo("POST");
        assertThat(ok.get("path").asText()).isEqualTo("/v1/chat/completions");
        assertThat(ok.get("status").asInt()).isEqualTo(200);
        assertThat(ok.get("attempts").asInt()).isEqualTo(1);
        assertThat(ok.get("latency_ms").asLong()).isNotNegative();
        assertThat(ok.get("ttfb_ms").isIntegralNumber()).isTrue();
        assertThat(ok.get("prompt_tokens").asLong()).isEqualTo(5);
        assertThat(ok.get("completion_tokens").asLong()).isEqualTo(3);
        assertThat(ok.get("cost_usd").asDouble()).isEqualTo(5 * 0.001 + 3 * 0.002);
        assertThat(ok.get("cache").asText()).isEqualTo("off");

        JsonNode refused = lineFor(lines, "audit-401");
        assertThat(refused.get("status").asInt()).isEqualTo(401);
        assertThat(refused.get("client").isNull()).isTrue();
        assertThat(refused.get("task").isNull()).isTrue();
        assertThat(refused.get("key_id").isNull()).isTrue();
        assertThat(refused.get("attempts").asInt()).isZero();
        assertThat(refused.get("prompt_tokens").isNull()).isTrue();
        assertThat(refused.get("cost_usd").isNull()).isTrue();

        JsonNode badTask = lineFor(lines, "audit-400");
        assertThat(badTask.get("status").asInt()).isEqualTo(400);
        assertThat(badTask.get("client").asText()).isEqualTo("app");
        assertThat(badTask.get("task").isNull()).isTrue();

        assertThat(String.join("\n", lines)).doesNotContain(CLIENT).doesNotContain(KEY_A).doesNotContain(KEY_B)
                .doesNotContain("messages");
    }

    private static JsonNode lineFor(List<String> lines, String requestId) {
        return lines.stream().map(ObserveTestBase::parse)
                .filter(n -> n.get("request_id").asText().equals(requestId))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no audit line for " + requestId + " in " + lines));
    }
}
