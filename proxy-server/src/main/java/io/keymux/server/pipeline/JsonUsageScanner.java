package io.keymux.server.pipeline;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteBufferFeeder;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Finds the top-level {@code usage.prompt_tokens} and {@code usage.completion_tokens} of a JSON
 * answer while it streams through, chunk by chunk, with Jackson's non-blocking parser: the bytes
 * are read in place (no copy of the payload, nothing buffered whole). Interim: the wire package's
 * scanners (SSE included) replace it. Not thread-safe; one per answer, fed in order.
 */
final class JsonUsageScanner {
    private static final JsonFactory JSON = new JsonFactory();

    private final JsonParser parser;
    private int depth;
    private boolean inUsage;
    private boolean usageAtDepth1;
    private String field = "";
    private long promptTokens = -1;
    private long completionTokens = -1;
    private boolean failed;

    JsonUsageScanner() {
        JsonParser p;
        try {
            p = JSON.createNonBlockingByteBufferParser();
        } catch (IOException e) {
            // Creating an in-memory parser does no I/O; treat as "usage unknown".
            p = null;
            failed = true;
        }
        this.parser = p;
    }

    /** Scans one chunk; must be called before the chunk is released. */
    void feed(ByteBuf chunk) {
        if (failed || chunk.readableBytes() == 0) {
            return;
        }
        ByteBuffer bytes = chunk.nioBufferCount() == 1
                ? chunk.nioBuffer(chunk.readerIndex(), chunk.readableBytes())
                : ByteBuffer.wrap(readCopy(chunk));
        try {
            ((ByteBufferFeeder) parser.getNonBlockingInputFeeder()).feedInput(bytes);
            JsonToken token;
            while ((token = parser.nextToken()) != null && token != JsonToken.NOT_AVAILABLE) {
                onToken(token);
            }
        } catch (IOException e) {
            // Not JSON after all (or truncated): the answer still streams, only usage stays unknown.
            failed = true;
        }
    }

    private static byte[] readCopy(ByteBuf chunk) {
        byte[] copy = new byte[chunk.readableBytes()];
        chunk.getBytes(chunk.readerIndex(), copy);
        return copy;
    }

    private void onToken(JsonToken token) throws IOException {
        switch (token) {
            case START_OBJECT, START_ARRAY -> {
                depth++;
                if (depth == 2 && usageAtDepth1 && token == JsonToken.START_OBJECT) {
                    inUsage = true;
                }
                usageAtDepth1 = false;
            }
            case END_OBJECT, END_ARRAY -> {
                if (depth == 2) {
                    inUsage = false;
                }
                depth--;
            }
            case FIELD_NAME -> {
                field = parser.currentName();
                usageAtDepth1 = depth == 1 && "usage".equals(field);
            }
            case VALUE_NUMBER_INT -> {
                if (inUsage && depth == 2) {
                    if ("prompt_tokens".equals(field)) {
                        promptTokens = parser.getLongValue();
                    } else if ("completion_tokens".equals(field)) {
                        completionTokens = parser.getLongValue();
                    }
                }
                usageAtDepth1 = false;
            }
            default -> usageAtDepth1 = false;
        }
    }

    /** Whether both token counts were found. */
    boolean usageKnown() {
        return !failed && promptTokens >= 0 && completionTokens >= 0;
    }

    long promptTokens() {
        return Math.max(0, promptTokens);
    }

    long completionTokens() {
        return Math.max(0, completionTokens);
    }
}
