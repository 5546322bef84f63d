package io.keymux.config.model;

import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A task's {@code match} rule; every condition present must hold.
 *
 * @param path glob ({@code *}, {@code ?}) on the request path, or {@code null}
 * @param model glob on the JSON body's {@code model}, or {@code null}
 * @param headers header name (case-insensitive) to exact value
 */
public record MatchRule(@Nullable String path, @Nullable String model, Map<String, String> headers) {

    public MatchRule {
        headers = Map.copyOf(headers);
    }
}
