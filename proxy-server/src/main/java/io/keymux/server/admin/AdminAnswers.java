package io.keymux.server.admin;

import io.keymux.server.guard.LoopDelay;
import io.keymux.server.pipeline.KeymuxError;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.channel.EventLoop;
import java.time.Duration;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * How every admin route answers: one whole body that is never cached, and the {@code /admin/*}
 * token refusal (with {@code WWW-Authenticate} on a 401) given the same way by every route, so a
 * new route cannot answer a refused caller differently.
 */
public final class AdminAnswers {

    private AdminAnswers() {}

    /** A JSON body with its length, marked {@code no-store}. */
    public static Mono<Void> json(HttpServerResponse res, int status, byte[] body) {
        return send(res, status, "application/json", body);
    }

    /**
     * {@link #refused(HttpServerResponse, KeymuxError)} after {@code hold}, on the connection's own
     * event loop (a timer, no thread waits): how a caller that keeps guessing the token is slowed.
     */
    public static Mono<Void> refused(HttpServerRequest req, HttpServerResponse res, KeymuxError refusal,
            Duration hold) {
        if (hold.isZero()) {
            return refused(res, refusal);
        }
        EventLoop[] loop = {null};
        req.withConnection(connection -> loop[0] = connection.channel().eventLoop());
        EventLoop own = loop[0];
        if (own == null) {
            return refused(res, refusal);
        }
        return LoopDelay.of(own, hold).then(Mono.defer(() -> refused(res, refusal)));
    }

    /** The answer to a caller that {@link AdminRoutes#refusal} turned away (401 or 403). */
    public static Mono<Void> refused(HttpServerResponse res, KeymuxError refusal) {
        if (refusal.status() == 401) {
            res.header(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"keymux-admin\"");
        }
        return json(res, refusal.status(), refusal.body());
    }

    static Mono<Void> send(HttpServerResponse res, int status, String contentType, byte[] body) {
        return res.status(status)
                .header(HttpHeaderNames.CONTENT_TYPE, contentType)
                .header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(body.length))
                .header(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .sendByteArray(Mono.just(body))
                .then();
    }
}
