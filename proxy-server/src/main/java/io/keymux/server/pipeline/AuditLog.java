package io.keymux.server.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per request on the logger {@code keymux.audit} (SPEC.md section 6). Never a secret
 * or a body: only names, ids, the path (no query: it may hold a key), status and timings.
 */
final class AuditLog {
    private static final Logger AUDIT = LoggerFactory.getLogger("keymux.audit");
    private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private AuditLog() {}

    static void write(Exchange ex, long nowNanos, long nowMillis) {
        if (!AUDIT.isInfoEnabled()) {
            return;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("ts", TS.format(Instant.ofEpochMilli(nowMillis)));
        line.put("request_id", ex.requestId);
        line.put("client", ex.client);
        line.put("task", ex.task);
        line.put("key_id", ex.keyId);
        line.put("upstream", ex.upstream);
        line.put("method", ex.request.method().name());
        line.put("path", ex.rawPath());
        line.put("status", ex.status);
        line.put("attempts", ex.attempts);
        line.put("latency_ms", (nowNanos - ex.startNanos) / 1_000_000);
        line.put("ttfb_ms", ex.firstByteNanos < 0 ? null : (ex.firstByteNanos - ex.startNanos) / 1_000_000);
        line.put("prompt_tokens", ex.promptTokens < 0 ? null : ex.promptTokens);
        line.put("completion_tokens", ex.completionTokens < 0 ? null : ex.completionTokens);
        line.put("cost_usd", null);
        line.put("cache", "off");
        try {
            AUDIT.info(JSON.writeValueAsString(line));
        } catch (JsonProcessingException e) {
            LOG.warn("audit line not written for request {}", ex.requestId, e);
        }
    }
}
