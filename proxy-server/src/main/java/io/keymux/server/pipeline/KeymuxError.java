package io.keymux.server.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An error keymux answers itself (SPEC.md section 4), in OpenAI's shape so every SDK shows it:
 * {@code {"error":{"message":"...","type":"keymux_error","code":"..."}}}. Messages never hold a secret.
 *
 * @param retryAfter for 429s and 503 {@code upstream_overloaded}: the {@code Retry-After} to send, or {@code null}
 * @param closeConnection whether to close the client connection after answering (for example when
 *     the rest of an oversized body is deliberately left unread)
 */
public record KeymuxError(int status, String code, String message, @Nullable Duration retryAfter,
        boolean closeConnection) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public KeymuxError {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
    }

    static KeymuxError of(int status, String code, String message) {
        return new KeymuxError(status, code, message, null, false);
    }

    static KeymuxError badRequest(String message) {
        return of(400, "bad_request", message);
    }

    static KeymuxError invalidClientKey(String message) {
        return of(401, "invalid_client_key", message);
    }

    static KeymuxError allKeysExhausted(String message, Duration retryAfter) {
        return new KeymuxError(429, "all_keys_exhausted", message, retryAfter, false);
    }

    static KeymuxError upstreamUnavailable(String message) {
        return of(502, "upstream_unavailable", message);
    }

    static KeymuxError upstreamOverloaded(String message, Duration retryAfter) {
        return new KeymuxError(503, "upstream_overloaded", message, retryAfter, false);
    }

    static KeymuxError upstreamTimeout(String message) {
        return of(504, "upstream_timeout", message);
    }

    /** {@code Retry-After} in whole seconds, rounded up, at least 1. */
    public @Nullable String retryAfterSeconds() {
        if (retryAfter == null) {
            return null;
        }
        long millis = Math.max(1, retryAfter.toMillis());
        return Long.toString(Math.max(1, (millis + 999) / 1000));
    }

    /** The JSON body. */
    public byte[] body() {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", message);
        error.put("type", "keymux_error");
        error.put("code", code);
        try {
            return JSON.writeValueAsBytes(Map.of("error", error));
        } catch (JsonProcessingException e) {
            // A map of strings always serialises; this would be a Jackson bug.
            throw new IllegalStateException(e);
        }
    }

    /** The body as a string, for an SSE {@code data:} event. */
    public String bodyString() {
        return new String(body(), StandardCharsets.UTF_8);
    }
}
