package io.keymux.server.reload;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.config.model.KeymuxConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * {@code POST /admin/reload}: checks the admin token ({@link AdminToken}), then reloads the
 * configuration from its files on a worker thread (file IO must not run on an event loop) and
 * answers 200 {@code {"status":"reloaded","upstreams":N,"tasks":N,"keys":N,"clients":N}} or 422
 * {@code {"error":"...","problems":["path: message", ...]}}.
 */
public final class ReloadRoute implements BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Supplier<KeymuxConfig> current;
    private final Supplier<ReloadResult> reload;

    /**
     * @param current the configuration serving now (its {@code admin.token} guards the route)
     * @param reload loads and applies the configuration; may block
     */
    public ReloadRoute(Supplier<KeymuxConfig> current, Supplier<ReloadResult> reload) {
        this.current = Objects.requireNonNull(current, "current");
        this.reload = Objects.requireNonNull(reload, "reload");
    }

    @Override
    public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
        AdminToken check = AdminToken.check(request.requestHeaders().get(HttpHeaderNames.AUTHORIZATION),
                current.get().admin().token());
        return switch (check) {
            case NOT_CONFIGURED -> send(response, 403, error("admin_disabled",
                    "/admin/* is disabled: set admin.token (for example token: ${KEYMUX_ADMIN_TOKEN})"));
            case UNAUTHORIZED -> send(response.header(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"keymux-admin\""),
                    401, error("invalid_admin_token", "send Authorization: Bearer <admin.token> to use /admin/*"));
            case ALLOWED -> Mono.fromSupplier(reload)
                    .subscribeOn(Schedulers.boundedElastic())
                    .flatMap(result -> send(response, result.status(), result.body()));
        };
    }

    private static Map<String, Object> error(String code, String message) {
        return Map.of("error", Map.of("message", message, "type", "keymux_error", "code", code));
    }

    private static Mono<Void> send(HttpServerResponse response, int status, Map<String, Object> body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            return Mono.error(e);
        }
        return response.status(status)
                .header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(bytes.length))
                .sendByteArray(Mono.just(bytes))
                .then();
    }
}
