package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.server.testing.RawHttp;
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
        assertThat(names).containsExactly("ts", "request_id", "remote_addr", "client", "task", "key_id", "upstream", "method",
                "path", "status", "attempts", "latency_ms", "ttfb_ms", "prompt_tokens", "completion_tokens",
                "cost_usd", "cache");
        assertThat(ok.get("ts").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
        assertThat(ok.get("remote_addr").asText()).isEqualTo("127.0.0.1");
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

    @Test
    void requestsTheGuardRefusesBeforeRoutingGetALineWithTheClientAddress() throws Exception {
        List<String> lines;
        String refusedAnswer;
        try (AuditCapture audit = new AuditCapture()) {
            startKeymux(yaml("""
                    tasks:
                      - name: chat
                    api_keys:
                      - key_id: k1
                        api_key: ${KEY_A}
                        task_types: [chat]
                    """));
            int port = keymux.proxyPort();
            refusedAnswer = RawHttp.exchange(port, "TRACE /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\n"
                    + "X-Request-Id: audit-405\r\n\r\n");
            RawHttp.exchange(port, "GET /v1/%2e%2e/admin HTTP/1.1\r\nHost: a\r\nX-Request-Id: audit-target\r\n"
                    + "Authorization: Bearer " + KEY_B + "\r\n\r\n");
            RawHttp.exchange(port, "GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Request-Id: audit-431\r\n"
                    + "X-Big: " + "b".repeat(70_000) + "\r\n\r\n");
            RawHttp.exchange(port, "NOT A REQUEST LINE\r\n\r\n");
            awaitCounted(4);
            keymux.close();
            lines = audit.lines();
        }

        assertThat(RawHttp.status(refusedAnswer)).isEqualTo(405);
        assertThat(refusedAnswer).contains("X-Request-Id: audit-405");
        assertThat(lines).hasSize(4);
        JsonNode trace = lineFor(lines, "audit-405");
        assertThat(trace.get("status").asInt()).isEqualTo(405);
        assertThat(trace.get("remote_addr").asText()).isEqualTo("127.0.0.1");
        assertThat(trace.get("method").asText()).isEqualTo("TRACE");
        assertThat(trace.get("path").asText()).isEqualTo("/v1/chat/completions");
        assertThat(trace.get("attempts").asInt()).isZero();
        assertThat(trace.get("client").isNull()).isTrue();
        assertThat(trace.get("key_id").isNull()).isTrue();
        assertThat(trace.get("cache").asText()).isEqualTo("off");

        JsonNode target = lineFor(lines, "audit-target");
        assertThat(target.get("status").asInt()).isEqualTo(400);
        assertThat(target.get("method").asText()).isEqualTo("GET");
        assertThat(target.get("path").isNull()).as("a refused target is not echoed").isTrue();

        // Netty keeps no header of a block it cut off, so the 431's line has a new request id.
        JsonNode big = lines.stream().map(ObserveTestBase::parse).filter(n -> n.get("status").asInt() == 431)
                .findFirst().orElseThrow(() -> new AssertionError("no line for the 431: " + lines));
        assertThat(big.get("status").asInt()).isEqualTo(431);
        assertThat(big.get("path").asText()).isEqualTo("/v1/models");

        JsonNode garbage = lines.stream().map(ObserveTestBase::parse)
                .filter(n -> n.get("status").asInt() == 400 && n.get("method").isNull())
                .findFirst().orElseThrow(() -> new AssertionError("no line for the malformed request: " + lines));
        assertThat(garbage.get("remote_addr").asText()).isEqualTo("127.0.0.1");
        assertThat(garbage.get("request_id").asText()).matches("[0-9a-f-]{36}");
        assertThat(String.join("\n", lines)).doesNotContain(KEY_B).doesNotContain("bbbb");
    }

    private static JsonNode lineFor(List<String> lines, String requestId) {
        return lines.stream().map(ObserveTestBase::parse)
                .filter(n -> n.get("request_id").asText().equals(requestId))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no audit line for " + requestId + " in " + lines));
    }
}
