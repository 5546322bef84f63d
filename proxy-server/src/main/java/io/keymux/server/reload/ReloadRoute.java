package io.keymux.server.reload;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.server.admin.AdminAnswers;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * {@code POST /admin/reload}: checks the caller with the {@code /admin/*} token check, then reloads
 * the configuration from its files on a worker thread (file IO must not run on an event loop) and
 * answers 200 {@code {"status":"reloaded","upstreams":N,"tasks":N,"keys":N,"clients":N}} or 422
 * {@code {"error":"...","problems":["path: message", ...]}}.
 */
public final class ReloadRoute implements BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BiFunction<HttpServerRequest, HttpServerResponse, @Nullable Mono<Void>> refuse;
    private final Supplier<ReloadResult> reload;

    /**
     * @param refuse the answer to a request that may not use {@code /admin/*} (401/403), or
     *     {@code null} when it may: {@link io.keymux.server.admin.AdminRoutes#refuse}
     * @param reload loads and applies the configuration; may block
     */
    public ReloadRoute(BiFunction<HttpServerRequest, HttpServerResponse, @Nullable Mono<Void>> refuse, Supplier<ReloadResult> reload) {
        this.refuse = Objects.requireNonNull(refuse, "refuse");
        this.reload = Objects.requireNonNull(reload, "reload");
    }

    @Override
    public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
        Mono<Void> refused = refuse.apply(request, response);
        if (refused != null) {
            return refused;
        }
        return Mono.fromSupplier(reload)
                .subscribeOn(Schedulers.boundedElastic())
                .flatMap(result -> {
                    try {
                        return AdminAnswers.json(response, result.status(), JSON.writeValueAsBytes(result.body()));
                    } catch (JsonProcessingException e) {
                        return Mono.error(e);
                    }
                });
    }
}
