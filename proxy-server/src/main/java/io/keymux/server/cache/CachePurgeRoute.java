package io.keymux.server.cache;

import io.keymux.server.admin.AdminAnswers;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.BiFunction;
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
    private final BiFunction<HttpServerRequest, HttpServerResponse, @Nullable Mono<Void>> refuse;
    private final ResponseCache cache;

    /**
     * @param refuse the answer to a request that may not use {@code /admin/*} (401/403), or
     *     {@code null} when it may: {@link io.keymux.server.admin.AdminRoutes#refuse}
     */
    public CachePurgeRoute(BiFunction<HttpServerRequest, HttpServerResponse, @Nullable Mono<Void>> refuse, ResponseCache cache) {
        this.refuse = Objects.requireNonNull(refuse, "refuse");
        this.cache = Objects.requireNonNull(cache, "cache");
    }

    @Override
    public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
        Mono<Void> refused = refuse.apply(request, response);
        if (refused != null) {
            return refused;
        }
        // Caffeine's invalidateAll is CPU work over the map, no IO: fine on the admin loop.
        long purged = cache.purge();
        return AdminAnswers.json(response, 200, ("{\"purged\":" + purged + "}").getBytes(StandardCharsets.UTF_8));
    }
}
