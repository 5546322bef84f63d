package io.keymux.server.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * The counters of {@code usage} objects as the providers spell them, shared by the JSON, SSE and
 * WebSocket paths. Each counter keeps its last reported value, so a stream's usage can be gathered
 * from several events (Anthropic's {@code message_start}, then {@code message_delta}); the providers'
 * shapes are told apart only in {@link #toUsage()}.
 */
final class UsageFields {

    /** {@code prompt_tokens} or {@code input_tokens} (Anthropic's excludes its cache counters). */
    @Nullable Long prompt;
    /** {@code completion_tokens} or {@code output_tokens}. */
    @Nullable Long completion;
    /** {@code cached_tokens} of {@code prompt_tokens_details}, {@code input_tokens_details} or {@code input_token_details}. */
    @Nullable Long cachedDetail;
    /** Anthropic's {@code cache_read_input_tokens}. */
    @Nullable Long cacheRead;
    /** Anthropic's {@code cache_creation_input_tokens}. */
    @Nullable Long cacheCreation;

    /**
     * Reads the object the parser stands on (its {@code START_OBJECT}) up to and including its
     * {@code END_OBJECT}; later values of a counter replace earlier ones.
     */
    void read(JsonParser p) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            switch (name) {
                case "prompt_tokens", "input_tokens" -> prompt = orElse(longValue(p, value), prompt);
                case "completion_tokens", "output_tokens" -> completion = orElse(longValue(p, value), completion);
                case "cache_read_input_tokens" -> cacheRead = orElse(longValue(p, value), cacheRead);
                case "cache_creation_input_tokens" -> cacheCreation = orElse(longValue(p, value), cacheCreation);
                // Chat completions, Responses API, Realtime ("token" singular) respectively.
                case "prompt_tokens_details", "input_tokens_details", "input_token_details" -> {
                    if (value == JsonToken.START_OBJECT) {
                        readDetails(p);
                    } else {
                        p.skipChildren();
                    }
                }
                default -> p.skipChildren();
            }
        }
    }

    private void readDetails(JsonParser p) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("cached_tokens")) {
                cachedDetail = orElse(longValue(p, value), cachedDetail);
            } else {
                p.skipChildren();
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

    /** Takes every counter {@code later} reported, keeping this one's others. */
    void merge(UsageFields later) {
        prompt = orElse(later.prompt, prompt);
        completion = orElse(later.completion, completion);
        cachedDetail = orElse(later.cachedDetail, cachedDetail);
        cacheRead = orElse(later.cacheRead, cacheRead);
        cacheCreation = orElse(later.cacheCreation, cacheCreation);
    }

    /** Whether any counter was reported. */
    boolean any() {
        return prompt != null || completion != null || cachedDetail != null || cacheRead != null
                || cacheCreation != null;
    }

    /**
     * The usage in keymux's terms. Anthropic's shape is known by its cache counters, which its
     * answers always carry: there {@code input_tokens} excludes the cache, so the prompt is the sum.
     * Elsewhere the input count already includes the cached tokens.
     */
    TokenUsage toUsage() {
        Long promptTokens = prompt;
        long cached;
        if (cacheRead != null || cacheCreation != null) {
            long read = cacheRead == null ? 0 : cacheRead;
            long created = cacheCreation == null ? 0 : cacheCreation;
            if (promptTokens != null) {
                promptTokens = saturatedAdd(promptTokens, saturatedAdd(read, created));
            }
            cached = read;
        } else {
            cached = cachedDetail == null ? 0 : cachedDetail;
        }
        if (promptTokens == null && completion == null) {
            return TokenUsage.UNKNOWN;
        }
        // A provider's cached count never exceeds its prompt; should one say so, trust the prompt.
        cached = Math.max(0, promptTokens == null ? 0 : Math.min(cached, promptTokens));
        return new TokenUsage(promptTokens, completion, cached);
    }

    /** An integer that fits a {@code long} and is not negative, else {@code null} (and the value is skipped). */
    static @Nullable Long longValue(JsonParser p, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_NUMBER_INT) {
            JsonParser.NumberType type = p.getNumberType();
            if (type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG) {
                long v = p.getLongValue();
                return v < 0 ? null : v;
            }
            return null;
        }
        p.skipChildren();
        return null;
    }

    private static @Nullable Long orElse(@Nullable Long value, @Nullable Long previous) {
        return value != null ? value : previous;
    }

    private static long saturatedAdd(long a, long b) {
        long sum = a + b;
        return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
    }
}
