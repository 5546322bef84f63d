package io.keymux.core.classify;

import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * What classification looks at, extracted by the server.
 *
 * @param taskHeader the task header's value, or {@code null} when absent
 * @param rawPath the request path as received (percent-encoded), without the query
 * @param model the JSON body's {@code model}, or {@code null}
 * @param header looks a request header up by name, case-insensitively; {@code null} when absent
 */
public record RequestFacts(
        @Nullable String taskHeader,
        String rawPath,
        @Nullable String model,
        Function<String, @Nullable String> header) {

    public RequestFacts {
        Objects.requireNonNull(rawPath, "rawPath");
        Objects.requireNonNull(header, "header");
    }
}
