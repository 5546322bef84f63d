package io.keymux.server.cache;

import io.keymux.server.admin.AdminAnswers;
import io.keymux.server.pipeline.KeymuxError;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * {@code DELETE /admin/cache} (SPEC.md section 5): behind the {@code /admin/*} token, empties this
 * replica's response cache and answers {@code {"purged":N}}.
 */
public final class CachePurgeRoute implements BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> {
    private final Function<HttpServerRequest, @Nullable KeymuxError> refusal;
    private final ResponseCache cache;

    /**
     * @param refusal why a request may not use {@code /admin/*}, or {@code null} when it may:
     *     {@link io.keymux.server.admin.AdminRoutes#refusal}
     */
    public CachePurgeRoute(Function<HttpServerRequest, @Nullable KeymuxError> refusal, ResponseCache cache) {
        this.refusal = Objects.requireNonNull(refusal, "refusal");
        this.cache = Objects.requireNonNull(cache, "cache");
    }

    @Override
    public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
        KeymuxError refused = refusal.apply(request);
        if (refused != null) {
            return AdminAnswers.refused(response, refused);
        }
        // Caffeine's invalidateAll is CPU work over the map, no IO: fine on the admin loop.
        long purged = cache.purge();
        return AdminAnswers.json(response, 200, ("{\"purged\":" + purged + "}").getBytes(StandardCharsets.UTF_8));
    }
}
