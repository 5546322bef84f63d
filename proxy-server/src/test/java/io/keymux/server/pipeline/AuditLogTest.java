package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.TestConfig;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** One JSON audit line per request with SPEC.md section 6's fields, and never a secret. */
class AuditLogTest extends KeymuxTestBase {
    private final Logger audit = (Logger) LoggerFactory.getLogger("keymux.audit");
    private final CompletableFuture<String> line = new CompletableFuture<>();
    private final AppenderBase<ILoggingEvent> capture = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent event) {
            line.complete(event.getFormattedMessage());
        }
    };
    private Level previous;

    @BeforeEach
    void capture() {
        previous = audit.getLevel();
        audit.setLevel(Level.INFO);
        capture.start();
        audit.addAppender(capture);
    }

    @AfterEach
    void release() {
        audit.detachAppender(capture);
        audit.setLevel(previous);
    }

    @Test
    void auditLineHasTheRequestsFactsAndNoSecret() throws Exception {
        startKeymux(config().build());
        post("/v1/chat/completions?key=q", chatBody("gpt-4o"), "X-Request-Id", "audit-1");
        String json = line.get(20, TimeUnit.SECONDS);
        JsonNode node = new ObjectMapper().readTree(json);
        assertThat(node.fieldNames()).toIterable().containsExactly("ts", "request_id", "client", "task", "key_id",
                "upstream", "method", "path", "status", "attempts", "latency_ms", "ttfb_ms", "prompt_tokens",
                "completion_tokens", "cost_usd", "cache");
        assertThat(node.get("ts").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
        assertThat(node.get("request_id").asText()).isEqualTo("audit-1");
        assertThat(node.get("client").asText()).isEqualTo("app");
        assertThat(node.get("task").asText()).isEqualTo("chat");
        assertThat(node.get("key_id").asText()).isEqualTo("k1");
        assertThat(node.get("path").asText()).isEqualTo("/v1/chat/completions");
        assertThat(node.get("status").asInt()).isEqualTo(200);
        assertThat(node.get("attempts").asInt()).isEqualTo(1);
        assertThat(node.get("prompt_tokens").asLong()).isEqualTo(5);
        assertThat(node.get("completion_tokens").asLong()).isEqualTo(3);
        assertThat(node.get("cache").asText()).isEqualTo("off");
        assertThat(json).doesNotContain(TestConfig.CLIENT_KEY).doesNotContain(TestConfig.POOL_KEY_1)
                .doesNotContain("messages");
    }
}
