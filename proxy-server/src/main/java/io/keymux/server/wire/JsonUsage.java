package io.keymux.server.wire;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import java.io.IOException;

/**
 * Token usage of a non-streamed JSON answer, read with Jackson's streaming parser.
 *
 * <pre>{@code
 * TokenUsage usage = JsonUsage.extract(responseBody); // OpenAI or Anthropic shape
 * }</pre>
 */
public final class JsonUsage {

    private JsonUsage() {}

    /**
     * Reads the top-level {@code usage} object of {@code body}: {@code prompt_tokens} /
     * {@code completion_tokens} (OpenAI) or {@code input_tokens} / {@code output_tokens}
     * (Anthropic, OpenAI Responses API).
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
