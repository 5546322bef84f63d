package io.keymux.server.pipeline;

import io.keymux.core.cache.Flight;
import io.netty.handler.codec.http.HttpHeaders;
import org.jspecify.annotations.Nullable;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * One client request as it moves through the pipeline: the server's request and response plus what
 * the steps learned, for the response headers and the audit line. Confined to the request's chain
 * (one step at a time), so plain fields suffice; {@code volatile} because steps may run on different
 * event loops (server side, client side, timer).
 */
final class Exchange {
    /** {@link #client} until authentication names the client; the audit line then says {@code null}. */
    static final String NO_CLIENT = "-";

    final HttpServerRequest request;
    final HttpServerResponse response;
    final String requestId;
    final long startNanos;
    volatile String client = NO_CLIENT;
    volatile @Nullable String task;
    volatile @Nullable String keyId;
    volatile @Nullable String upstream;
    volatile int attempts;
    volatile int status;
    volatile long firstByteNanos = -1;
    volatile long promptTokens = -1;
    volatile long completionTokens = -1;
    /** USD of the settled usage, or {@code -1} when the answer carried none. */
    volatile double costUsd = -1;
    /** Wall-clock arrival, epoch millis, for the audit line's {@code ts}. */
    volatile long startMillis;
    /** Time spent waiting for a key (all attempts), excluded from the overhead. */
    volatile long queueNanos;
    /** Time from sending each attempt upstream to its response headers (or failure), summed. */
    volatile long upstreamNanos;
    /** The audit {@code cache} value and {@code X-Keymux-Cache} header ({@code off}: no header). */
    volatile String cache = "off";
    /** The flight this request leads (its answer feeds identical requests and the cache), or {@code null}. */
    volatile @Nullable Flight flight;

    Exchange(HttpServerRequest request, HttpServerResponse response, String requestId, long startNanos) {
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
