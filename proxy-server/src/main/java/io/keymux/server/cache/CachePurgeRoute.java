package io.keymux.server.cache;

import io.keymux.server.pipeline.KeymuxError;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
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
            if (refused.status() == 401) {
                response.header(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"keymux-admin\"");
            }
            return send(response, refused.status(), refused.body());
        }
        // Caffeine's invalidateAll is CPU work over the map, no IO: fine on the admin loop.
        long purged = cache.purge();
        return send(response, 200, ("{\"purged\":" + purged + "}").getBytes(StandardCharsets.UTF_8));
    }

    private static Mono<Void> send(HttpServerResponse response, int status, byte[] body) {
        return response.status(status)
                .header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(body.length))
                .header(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .sendByteArray(Mono.just(body))
                .then();
    }
}
