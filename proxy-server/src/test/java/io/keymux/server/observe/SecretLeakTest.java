package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.AppenderBase;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Runs every kind of request (success, 429 failover, a key disabled by a 401, a rejected client, a
 * bad task, admin calls with and without the token) with known secrets, then looks for those
 * secrets in every log line (root logger at production levels, and the audit log), in
 * {@code /metrics}, in every admin answer and in every answer and header the proxy gave.
 */
class SecretLeakTest extends ObserveTestBase {
    private static final List<String> SECRETS = List.of(KEY_A, KEY_B, KEY_C, KEY_D, CLIENT, ADMIN_TOKEN);

    @Test
    void noSecretReachesALogAMetricOrAnAnswer() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Map<String, Level> levels = Map.of(org.slf4j.Logger.ROOT_LOGGER_NAME, Level.INFO, "io.netty", Level.WARN,
                "reactor.netty", Level.WARN);
        Map<String, Level> previous = new java.util.HashMap<>();
        ConcurrentLinkedQueue<String> logs = new ConcurrentLinkedQueue<>();
        AppenderBase<ILoggingEvent> capture = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent event) {
                logs.add(event.getLoggerName() + " " + event.getFormattedMessage() + " "
                        + (event.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(event.getThrowableProxy())));
            }
        };
        capture.setContext(root.getLoggerContext());
        capture.start();
        levels.forEach((name, level) -> {
            Logger logger = (Logger) LoggerFactory.getLogger(name);
            previous.put(name, logger.getLevel());
            logger.setLevel(level);
        });
        root.addAppender(capture);
        List<String> seen = new ArrayList<>();
        List<String> auditLines;
        try (AuditCapture audit = new AuditCapture()) {
            startKeymux(yaml("""
                    admin: { token: "${ADMIN_TOKEN}" }
                    tasks:
                      - name: chat
                      - name: guarded
                    api_keys:
                      - key_id: a
                        api_key: ${KEY_A}
                        task_types: [chat]
                        cost_per_token: 0.001
                      - key_id: b
                        api_key: ${KEY_B}
                        task_types: [chat]
                        cost_per_token: 0.001
                      - key_id: c
                        api_key: ${KEY_C}
                        task_types: [guarded]
                      - key_id: d
                        api_key: ${KEY_D}
                        task_types: [guarded]
                    clients:
                      - name: app
                        key: ${CLIENT_KEY}
                    """));
            record(seen, chat("chat"));
            stub.enqueue(Reply.json(429, "{\"error\":\"slow down\"}").withHeader("Retry-After", "30"));
            record(seen, chat("chat"));
            stub.enqueue(Reply.json(401, "{\"error\":\"invalid api key\"}"));
            record(seen, chat("guarded"));
            // Clients presenting wrong keys, an upstream key among them: refused without echoing them.
            record(seen, post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer wrong-key"));
            record(seen, post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + KEY_A));
            record(seen, post("/v1/chat/completions", chatBody("gpt-4o"), "x-api-key", ADMIN_TOKEN,
                    "Authorization", ""));
            record(seen, chat("no-such-task"));
            awaitCounted(7);
            record(seen, admin("/admin/keys", "wrong-token"));
            record(seen, admin("/admin/keys", KEY_A));
            for (String path : List.of("/admin/metrics", "/admin/keys", "/admin/health", "/admin/history",
                    "/admin/recommendations", "/metrics", "/readyz", "/healthz", "/")) {
                Answer answer = admin(path, ADMIN_TOKEN);
                assertThat(answer.status()).as(path).isEqualTo(200);
                record(seen, answer);
            }
            keymux.close();
            auditLines = audit.lines();
        } finally {
            root.detachAppender(capture);
            previous.forEach((name, level) -> ((Logger) LoggerFactory.getLogger(name)).setLevel(level));
        }

        assertThat(stub.recorded()).hasSize(5);
        assertThat(auditLines).hasSize(7);
        assertThat(logs).anyMatch(line -> line.contains("key c disabled") || line.contains("key d disabled"));
        for (String secret : SECRETS) {
            assertThat(seen).as("answers").noneMatch(text -> text.contains(secret));
            assertThat(logs).as("log lines").noneMatch(text -> text.contains(secret));
            assertThat(auditLines).as("audit lines").noneMatch(text -> text.contains(secret));
        }
    }

    private static void record(List<String> seen, Answer answer) {
        StringBuilder text = new StringBuilder().append(answer.status()).append('\n');
        answer.headers().forEach(h -> text.append(h.getKey()).append(": ").append(h.getValue()).append('\n'));
        seen.add(text.append(answer.body()).toString());
    }
}
