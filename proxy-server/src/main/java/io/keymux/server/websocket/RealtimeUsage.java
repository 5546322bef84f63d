package io.keymux.server.websocket;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The usage a Realtime {@code response.done} event reports, the one place keymux reads it:
 *
 * <pre>{@code
 * {"type":"response.done","response":{"usage":{"input_tokens":120,"output_tokens":40,
 *   "input_token_details":{"cached_tokens":64}}}}
 * }</pre>
 *
 * Only text messages that contain {@code "response.done"} are parsed at all, so audio deltas and the
 * other events cost one byte search.
 *
 * @param inputTokens every input token, cached ones included (as the provider counts them)
 * @param outputTokens output tokens
 * @param cachedTokens input tokens served from the provider's prompt cache
 */
public record RealtimeUsage(long inputTokens, long outputTokens, long cachedTokens) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ByteBuf MARKER = Unpooled.unreleasableBuffer(
            Unpooled.copiedBuffer("\"response.done\"", StandardCharsets.US_ASCII)).asReadOnly();

    /**
     * The usage in one whole text message, or {@code null} when it is not a {@code response.done}
     * event with usage (or not JSON at all: the relay never fails over what it cannot read). Leaves
     * {@code message}'s indexes and reference count alone.
     */
    public static @Nullable RealtimeUsage of(ByteBuf message) {
        if (ByteBufUtil.indexOf(MARKER.duplicate(), message) < 0) {
            return null;
        }
        JsonNode event;
        try (ByteBufInputStream in = new ByteBufInputStream(message.duplicate())) {
            event = JSON.readTree((java.io.InputStream) in);
        } catch (IOException e) {
            return null;
        }
        if (event == null || !"response.done".equals(event.path("type").asText())) {
            return null;
        }
        JsonNode usage = event.path("response").path("usage");
        if (!usage.path("input_tokens").isIntegralNumber() || !usage.path("output_tokens").isIntegralNumber()) {
            return null;
        }
        long cached = usage.path("input_token_details").path("cached_tokens").asLong(0);
        return new RealtimeUsage(Math.max(0, usage.get("input_tokens").asLong()),
                Math.max(0, usage.get("output_tokens").asLong()), Math.max(0, cached));
    }
}
