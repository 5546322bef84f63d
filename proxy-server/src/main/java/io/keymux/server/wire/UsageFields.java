package io.keymux.server.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/** Reads the counters of a {@code usage} object, shared by the JSON and SSE paths. */
final class UsageFields {

    @Nullable Long prompt;
    @Nullable Long completion;

    /**
     * Reads the object the parser stands on (its {@code START_OBJECT}) up to and including its
     * {@code END_OBJECT}; later values of a counter replace earlier ones.
     */
    void read(JsonParser p) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            switch (name) {
                case "prompt_tokens", "input_tokens" -> {
                    Long v = longValue(p, value);
                    if (v != null) {
                        prompt = v;
                    }
                }
                case "completion_tokens", "output_tokens" -> {
                    Long v = longValue(p, value);
                    if (v != null) {
                        completion = v;
                    }
                }
                default -> p.skipChildren();
            }
        }
    }

    /**
     * Reads the members of the object the parser stands in (after its {@code START_OBJECT}) up to
     * its {@code END_OBJECT}: a {@code usage} member is read as by {@link #read}, the rest skipped.
     */
    void readUsageMember(JsonParser p) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (value == JsonToken.START_OBJECT && name.equals("usage")) {
                read(p);
            } else {
                p.skipChildren();
            }
        }
    }

    TokenUsage toUsage() {
        return prompt == null && completion == null ? TokenUsage.UNKNOWN : new TokenUsage(prompt, completion);
    }

    /** An integer that fits a {@code long}, else {@code null} (and the value is skipped). */
    static @Nullable Long longValue(JsonParser p, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_NUMBER_INT) {
            JsonParser.NumberType type = p.getNumberType();
            if (type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG) {
                return p.getLongValue();
            }
            return null;
        }
        p.skipChildren();
        return null;
    }
}
