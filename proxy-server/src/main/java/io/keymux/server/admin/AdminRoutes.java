package io.keymux.server.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.config.model.KeymuxConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.HttpServerRoutes;

/**
 * The admin port's routes: {@code GET /healthz} (200 while serving, draining included) and
 * {@code GET /readyz} (200 ready, 503 unready or draining, JSON {@code {status, reasons}}).
 */
public final class AdminRoutes implements Consumer<HttpServerRoutes> {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final KeymuxConfig config;
    private final BooleanSupplier draining;

    /** Routes for a configuration; {@code draining} tells whether a drain has started. */
    public AdminRoutes(KeymuxConfig config, BooleanSupplier draining) {
        this.config = Objects.requireNonNull(config, "config");
        this.draining = Objects.requireNonNull(draining, "draining");
    }

    @Override
    public void accept(HttpServerRoutes routes) {
        routes.get("/healthz", (req, res) -> json(res, 200, Map.of("status", "ok")))
                .get("/readyz", (req, res) -> {
                    Readiness readiness = Readiness.of(config, draining);
                    Map<String, Object> body = new LinkedHashMap<>();
                    body.put("status", readiness.ready() ? "ready" : "unready");
                    body.put("reasons", readiness.reasons());
                    return json(res, readiness.ready() ? 200 : 503, body);
                });
    }

    private static Mono<Void> json(HttpServerResponse res, int status, Object body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            return Mono.error(e);
        }
        return res.status(status)
                .header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(bytes.length))
                .sendByteArray(Mono.just(bytes))
                .then();
    }
}
