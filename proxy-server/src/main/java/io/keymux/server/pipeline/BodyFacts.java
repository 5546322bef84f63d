package io.keymux.server.pipeline;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * What the pipeline reads from a JSON request body: {@code model} for the match rules and the
 * requested completion limit for the token estimate. A single streaming pass over the top-level
 * object, no tree. Interim: the wire package's request inspector replaces it.
 *
 * @param json whether the body parsed as a JSON object
 * @param maxTokens {@code max_tokens} or {@code max_completion_tokens}, or {@code null}
 */
record BodyFacts(boolean json, @Nullable String model, @Nullable Long maxTokens) {
    /** Completion tokens assumed when the request names no limit. */
    static final long DEFAULT_COMPLETION_TOKENS = 256;

    private static final JsonFactory JSON = new JsonFactory();
    private static final BodyFacts NOT_JSON = new BodyFacts(false, null, null);

    /** Reads a body; non-JSON bodies (multipart uploads) are left alone. */
    static BodyFacts of(byte[] body, @Nullable String contentType) {
        boolean declaredJson = contentType != null && contentType.toLowerCase(Locale.ROOT).contains("json");
        if (!declaredJson && (contentType != null || body.length == 0 || body[0] != '{')) {
            return NOT_JSON;
        }
        String model = null;
        Long maxTokens = null;
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return NOT_JSON;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if ("model".equals(name) && value == JsonToken.VALUE_STRING) {
                    model = p.getText();
                } else if (("max_tokens".equals(name) || "max_completion_tokens".equals(name))
                        && value == JsonToken.VALUE_NUMBER_INT) {
                    maxTokens = p.getLongValue();
                } else {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            // Malformed JSON is forwarded as is; the upstream answers it. Only the facts are lost.
            return NOT_JSON;
        }
        return new BodyFacts(true, model, maxTokens);
    }

    /** Prompt estimate (bytes / 4) plus the completion limit, for the up-front reservation. */
    long estimatedTokens(int bodyBytes) {
        long completion = json ? (maxTokens != null ? Math.max(0, maxTokens) : DEFAULT_COMPLETION_TOKENS) : 0;
        return bodyBytes / 4 + completion;
    }
}
