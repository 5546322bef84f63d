package io.keymux.server.pipeline;

import io.keymux.core.cache.Flight;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * One client request as it moves through the pipeline: the server's request and response plus what
 * the steps learned, for the response headers and the audit line. An exchange lives on its client
 * connection's event loop ({@link #loop}) from accept to last byte, its upstream connection comes from
 * that loop's pool, and whatever completes elsewhere (a queue wake-up, a Redis answer) hops back to
 * the loop before touching it: so plain fields suffice.
 */
final class Exchange {
    /** {@link #client} until authentication names the client; the audit line then says {@code null}. */
    static final String NO_CLIENT = "-";

    final HttpServerRequest request;
    final HttpServerResponse response;
    final String requestId;
    final long startNanos;
    /** The client connection's event loop, where every step of this exchange runs. */
    final EventLoop loop;
    String client = NO_CLIENT;
    @Nullable String task;
    @Nullable String keyId;
    @Nullable String upstream;
    int attempts;
    int status;
    long firstByteNanos = -1;
    long promptTokens = -1;
    long completionTokens = -1;
    /** USD of the settled usage, or {@code -1} when the answer carried none. */
    double costUsd = -1;
    /** Wall-clock arrival, epoch millis, for the audit line's {@code ts}. */
    long startMillis;
    /** Time spent waiting for a key (all attempts), excluded from the overhead. */
    long queueNanos;
    /** Time from sending each attempt upstream to its response headers (or failure), summed. */
    long upstreamNanos;
    /** The audit {@code cache} value and {@code X-Keymux-Cache} header ({@code off}: no header). */
    String cache = "off";
    /**
     * This attempt searches for an object no one knows (SPEC.md section 3.9): a 404 or a 400
     * {@code previous_response_not_found} moves on to the next key instead of answering.
     */
    boolean searching;
    /** What this attempt's answer tells the object map, or {@code null}. */
    io.keymux.server.affinity.@Nullable AnswerWatch answerWatch;
    /** The flight this request leads (its answer feeds identical requests and the cache), or {@code null}. */
    @Nullable Flight flight;

    Exchange(HttpServerRequest request, HttpServerResponse response, String requestId, long startNanos) {
        EventLoop[] own = {null};
        request.withConnection(connection -> own[0] = connection.channel().eventLoop());
        this.loop = Objects.requireNonNull(own[0], "the request has no connection");
        this.request = request;
        this.response = response;
        this.requestId = requestId;
        this.startNanos = startNanos;
    }

    HttpHeaders requestHeaders() {
        return request.requestHeaders();
    }

    /** The raw path without the query. */
    String rawPath() {
        String uri = request.uri();
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    /** The raw query without {@code ?}, or {@code null}. */
    @Nullable String rawQuery() {
        String uri = request.uri();
        int q = uri.indexOf('?');
        return q < 0 ? null : uri.substring(q + 1);
    }
}
