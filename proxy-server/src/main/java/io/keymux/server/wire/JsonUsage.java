package io.keymux.server.wire;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;
import java.io.IOException;

/**
 * Token usage of a non-streamed JSON answer, of one event (a Realtime {@code response.done} frame),
 * or of a {@code usage} object already parsed, read with Jackson's streaming parser. Every shape of
 * {@link TokenUsage} is understood: chat completions, embeddings, the Responses and Realtime APIs,
 * Anthropic messages, with their cached prompt tokens.
 *
 * <pre>{@code
 * TokenUsage usage = JsonUsage.extract(responseBody);           // top-level usage
 * TokenUsage done = JsonUsage.extractEvent(realtimeFrameBytes); // usage, response.usage or message.usage
 * TokenUsage fromTree = JsonUsage.ofUsageNode(node.path("response").path("usage"));
 * }</pre>
 */
public final class JsonUsage {

    private JsonUsage() {}

    /**
     * Reads the top-level {@code usage} object of {@code body}: {@code prompt_tokens} /
     * {@code completion_tokens} (OpenAI chat, embeddings) or {@code input_tokens} /
     * {@code output_tokens} (Anthropic, OpenAI Responses API), with the cached prompt tokens each
     * reports (see {@link TokenUsage}).
     *
     * <p>The buffer's reader index and reference count are left as they were. A body that is
     * not a well-formed JSON object, or has no usage, gives {@link TokenUsage#UNKNOWN}; this
     * method never throws on bad input.
     */
    public static TokenUsage extract(ByteBuf body) {
        requireNonNull(body, "body");
        if (!body.isReadable()) {
            return TokenUsage.UNKNOWN;
        }
        try (JsonParser p = WireJson.parser(body)) {
            return read(p);
        } catch (IOException malformed) {
            // Malformed answers pass through unchanged; their usage is simply unknown.
            return TokenUsage.UNKNOWN;
        }
    }

    /** As {@link #extract(ByteBuf)} for a byte array. */
    public static TokenUsage extract(byte[] body) {
        requireNonNull(body, "body");
        if (body.length == 0) {
            return TokenUsage.UNKNOWN;
        }
        try (JsonParser p = WireJson.FACTORY.createParser(body)) {
            return read(p);
        } catch (IOException malformed) {
            return TokenUsage.UNKNOWN;
        }
    }

    /**
     * Reads the usage of one event object: its top-level {@code usage}, or the {@code usage} of its
     * {@code response} (Responses API stream events, Realtime's {@code response.done}) or
     * {@code message} (Anthropic's {@code message_start}) member. As {@link #extract(byte[])}, it
     * never throws on bad input.
     */
    public static TokenUsage extractEvent(byte[] event) {
        requireNonNull(event, "event");
        if (event.length == 0) {
            return TokenUsage.UNKNOWN;
        }
        try (JsonParser p = WireJson.FACTORY.createParser(event)) {
            return readEvent(p);
        } catch (IOException malformed) {
            return TokenUsage.UNKNOWN;
        }
    }

    /** As {@link #extractEvent(byte[])} for the readable bytes of a buffer (left as they were). */
    public static TokenUsage extractEvent(ByteBuf event) {
        requireNonNull(event, "event");
        if (!event.isReadable()) {
            return TokenUsage.UNKNOWN;
        }
        try (JsonParser p = WireJson.parser(event)) {
            return readEvent(p);
        } catch (IOException malformed) {
            return TokenUsage.UNKNOWN;
        }
    }

    /**
     * Reads a {@code usage} object already in a Jackson tree (for example
     * {@code frame.path("response").path("usage")}); anything but an object gives
     * {@link TokenUsage#UNKNOWN}.
     */
    public static TokenUsage ofUsageNode(JsonNode usage) {
        requireNonNull(usage, "usage");
        if (!usage.isObject()) {
            return TokenUsage.UNKNOWN;
        }
        try (JsonParser p = usage.traverse()) {
            p.nextToken();
            UsageFields fields = new UsageFields();
            fields.read(p);
            return fields.toUsage();
        } catch (IOException unreachable) {
            // A tree in memory has no I/O to fail; keep the contract of never throwing.
            return TokenUsage.UNKNOWN;
        }
    }

    private static TokenUsage readEvent(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            return TokenUsage.UNKNOWN;
        }
        UsageFields usage = new UsageFields();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (value != JsonToken.START_OBJECT) {
                p.skipChildren();
            } else if (name.equals("usage")) {
                usage.read(p);
            } else if (name.equals("response") || name.equals("message")) {
                usage.readUsageMember(p);
            } else {
                p.skipChildren();
            }
        }
        if (p.nextToken() != null) {
            return TokenUsage.UNKNOWN;
        }
        return usage.toUsage();
    }

    private static TokenUsage read(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            return TokenUsage.UNKNOWN;
        }
        UsageFields usage = new UsageFields();
        usage.readUsageMember(p);
        if (p.nextToken() != null) {
            return TokenUsage.UNKNOWN;
        }
        return usage.toUsage();
    }
}
