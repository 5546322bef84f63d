package io.keymux.server.guard;

import io.keymux.server.audit.AuditRecord;
import io.keymux.server.pipeline.KeymuxError;
import io.keymux.server.pipeline.ProxyPipeline;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import reactor.netty.NettyPipeline;

/**
 * Per-connection protection in front of Reactor Netty's HTTP handling. Reactor Netty answers
 * decoder failures with empty responses of its own and has no header read timeout; this guard sits
 * around the HTTP codec and answers SPEC.md section 4's JSON errors instead, then closes:
 *
 * <ul>
 *   <li>request line longer than {@code server.max_uri_bytes}: 414 {@code uri_too_long};
 *   <li>header block larger than {@code server.max_header_bytes}, or more than
 *       {@value #MAX_HEADER_COUNT} header lines: 431 {@code headers_too_large};
 *   <li>any other malformed request (bad request line, bad header line, CR, LF or NUL inside a
 *       header value, bad chunk framing, an HTTP version other than 1.0 and 1.1, Content-Length
 *       together with Transfer-Encoding): 400 {@code bad_request};
 *   <li>headers not complete within {@code server.request_header_timeout} of the connection opening
 *       (first request) or of their first byte (later requests), or a body that stops arriving for
 *       that long (slowloris, slow POST): 408 {@code request_timeout}; a new connection that sends
 *       nothing at all in that time is closed without an answer;
 *   <li>a request target that is not origin-form, or whose path holds a dot segment in any spelling,
 *       a backslash or a leading {@code //} ({@link OriginForm}): 400 {@code bad_request};
 *   <li>{@code CONNECT} and {@code TRACE}: 405 {@code method_not_allowed} (a tunnel would poison a
 *       pooled upstream connection; a trace would echo the injected key);
 *   <li>a connection beyond {@code server.max_connections}: 503 {@code overloaded} to its first
 *       request.
 * </ul>
 *
 * Everything runs on the connection's event loop (one thread), so the state needs no locking, and
 * nothing blocks: timers are the event loop's own scheduled tasks.
 */
public final class HttpGuard {
    /** Pipeline name of the handler in front of the codec (sees raw bytes). */
    public static final String RAW_HANDLER = "keymux.guard.raw";
    /** Pipeline name of the handler behind the codec (sees decoded requests and outgoing responses). */
    public static final String DECODED_HANDLER = "keymux.guard.decoded";
    /** More header lines than this is 431; Envoy's default {@code max_headers_count}. */
    public static final int MAX_HEADER_COUNT = 100;

    private final long timeoutNanos;
    private final Duration timeout;
    private final boolean overCapacity;
    private final GuardRefusal.Listener refusals;

    // Event-loop confined state.
    private long requestsSeen;
    private long responsesDone;
    private boolean requestOpen;
    private boolean responseOpen;
    private boolean rejected;
    /** Bytes of a request whose headers are not decoded yet have arrived. */
    private boolean partial;
    private long lastBodyRead;
    /** When the request now being read began: its first byte, or the connection's opening. */
    private long requestStartNanos;
    private @Nullable ScheduledFuture<?> timer;

    private HttpGuard(Duration timeout, boolean overCapacity, GuardRefusal.Listener refusals) {
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
        this.overCapacity = overCapacity;
        this.refusals = refusals;
    }

    /**
     * Installs the guard on a freshly accepted server connection whose pipeline already holds
     * Reactor Netty's HTTP codec; connections without one are left alone.
     *
     * @param readTimeout {@code server.request_header_timeout}: for the header block, and for each gap
     *     between body chunks
     * @param refusals told of every request the guard answers itself (for the audit log)
     */
    public static void install(Channel channel, Duration readTimeout, ConnectionGate gate,
            GuardRefusal.Listener refusals) {
        Objects.requireNonNull(readTimeout, "readTimeout");
        Objects.requireNonNull(refusals, "refusals");
        ChannelPipeline pipeline = channel.pipeline();
        if (pipeline.get(NettyPipeline.HttpCodec) == null) {
            return;
        }
        boolean admitted = gate.admit();
        channel.closeFuture().addListener(f -> gate.release());
        HttpGuard guard = new HttpGuard(readTimeout, !admitted, refusals);
        pipeline.addBefore(NettyPipeline.HttpCodec, RAW_HANDLER, guard.new Raw());
        pipeline.addAfter(NettyPipeline.HttpCodec, DECODED_HANDLER, guard.new Decoded());
    }

    /** Waiting for the next request's first byte: everything earlier is read and answered. */
    private boolean betweenRequests() {
        return !requestOpen && !responseOpen && requestsSeen == responsesDone;
    }

    /**
     * Raw bytes. The header clock starts when the connection opens (as nginx's
     * {@code client_header_timeout}) and, on a kept-alive connection, at the next request's first
     * byte; the idle time between requests is {@code server.idle_timeout}'s business.
     */
    private final class Raw extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            requestStartNanos = System.nanoTime();
            armHeaderClock(ctx);
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (rejected) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (betweenRequests()) {
                if (!partial) {
                    requestStartNanos = System.nanoTime();
                }
                partial = true;
                armHeaderClock(ctx);
            }
            ctx.fireChannelRead(msg);
        }

        private void armHeaderClock(ChannelHandlerContext ctx) {
            ChannelHandlerContext decoded = ctx.pipeline().context(DECODED_HANDLER);
            if (timer == null && decoded != null) {
                timer = ctx.executor().schedule(() -> headersTimedOut(decoded), timeoutNanos, TimeUnit.NANOSECONDS);
            }
        }
    }

    /** Decoded requests in, responses out. */
    private final class Decoded extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (rejected) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpRequest request) {
                cancelTimer();
                partial = false;
                KeymuxError refusal = refusal(request);
                if (refusal != null) {
                    ReferenceCountUtil.release(msg);
                    reject(ctx, refusal, request);
                    return;
                }
                requestsSeen++;
                requestOpen = !(msg instanceof LastHttpContent);
                if (requestOpen) {
                    lastBodyRead = System.nanoTime();
                    scheduleBodyCheck(ctx, timeoutNanos);
                }
            } else if (msg instanceof HttpContent content) {
                if (content.decoderResult().isFailure() && !responseOpen) {
                    ReferenceCountUtil.release(msg);
                    reject(ctx, badRequest("malformed request body framing (chunk size or trailer)"), null);
                    return;
                }
                lastBodyRead = System.nanoTime();
                if (msg instanceof LastHttpContent) {
                    requestOpen = false;
                    cancelTimer();
                }
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            boolean informational = msg instanceof HttpResponse response
                    && response.status().codeClass() == HttpStatusClass.INFORMATIONAL;
            if (!informational) {
                if (msg instanceof HttpResponse) {
                    responseOpen = true;
                }
                if (msg instanceof LastHttpContent) {
                    responseOpen = false;
                    responsesDone++;
                }
            }
            ctx.write(msg, promise);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            cancelTimer();
            ctx.fireChannelInactive();
        }
    }

    /** Why a decoded request is refused before Reactor Netty sees it, or {@code null} to let it through. */
    private @Nullable KeymuxError refusal(HttpRequest request) {
        DecoderResult result = request.decoderResult();
        if (result.isFailure()) {
            Throwable cause = result.cause();
            if (cause instanceof TooLongHttpLineException) {
                return new KeymuxError(414, "uri_too_long",
                        "the request line is longer than server.max_uri_bytes; shorten the URI", null, true);
            }
            if (cause instanceof TooLongHttpHeaderException) {
                return headersTooLarge("the request headers are larger than server.max_header_bytes");
            }
            // Netty's own message may quote the offending bytes (possibly a credential): say what, not which.
            return badRequest("malformed HTTP request (" + (cause == null ? "decoder failure"
                    : cause.getClass().getSimpleName()) + ")");
        }
        HttpVersion version = request.protocolVersion();
        if (version.majorVersion() != 1 || version.minorVersion() > 1) {
            // Netty accepts any HTTP/x.y and would echo it back; only HTTP/1.0 and 1.1 are spoken here.
            return badRequest("unsupported HTTP version (expected: HTTP/1.1 or HTTP/1.0)");
        }
        HttpMethod method = request.method();
        if (HttpMethod.CONNECT.equals(method) || HttpMethod.TRACE.equals(method)) {
            // CONNECT would turn a pooled upstream connection into a tunnel (the next request on it
            // hangs); TRACE would have the upstream echo the injected key back to the client.
            return new KeymuxError(405, "method_not_allowed", "method " + method.name()
                    + " is not proxied (a reverse proxy for HTTP APIs)", null, true);
        }
        // After CONNECT (405 says more than 400 about "CONNECT host:443").
        String targetProblem = OriginForm.problem(request.uri());
        if (targetProblem != null) {
            // Before anything routes on it: a target that is not origin-form could steer the
            // forwarded request off the upstream's base_url (SPEC.md section 3.5).
            return badRequest(targetProblem);
        }
        HttpHeaders headers = request.headers();
        if (headers.contains(ProxyPipeline.SMUGGLING_MARKER)) {
            // Flagged by the listener's codec (SmugglingAwareHeaders), before any body byte is read.
            return badRequest("a request may not carry both Content-Length and Transfer-Encoding");
        }
        if (headers.size() > MAX_HEADER_COUNT) {
            return headersTooLarge("the request has more than " + MAX_HEADER_COUNT + " header lines");
        }
        for (Map.Entry<String, String> header : headers) {
            if (hasControlBreak(header.getValue())) {
                return badRequest("a header value contains CR, LF or NUL (header " + safeName(header.getKey()) + ")");
            }
        }
        if (overCapacity) {
            return new KeymuxError(503, "overloaded",
                    "keymux has reached server.max_connections open connections; retry shortly", null, true);
        }
        return null;
    }

    private static boolean hasControlBreak(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\r' || c == '\n' || c == 0) {
                return true;
            }
        }
        return false;
    }

    private static boolean isPrintableAscii(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    /** A header name fit for an error message: printable token characters only, bounded. */
    private static String safeName(String name) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < name.length() && sb.length() < 64; i++) {
            char c = name.charAt(i);
            sb.append(c > 32 && c < 127 ? c : '?');
        }
        return sb.toString();
    }

    private static KeymuxError headersTooLarge(String message) {
        return new KeymuxError(431, "headers_too_large", message + "; send fewer or smaller headers", null, true);
    }

    private static KeymuxError badRequest(String message) {
        return new KeymuxError(400, "bad_request", message, null, true);
    }

    private void headersTimedOut(ChannelHandlerContext ctx) {
        timer = null;
        if (rejected || !betweenRequests() || !ctx.channel().isActive()) {
            return;
        }
        if (!partial) {
            // A new connection that never sent a byte: there is no request to answer.
            rejected = true;
            ctx.close();
            return;
        }
        reject(ctx, new KeymuxError(408, "request_timeout", "the request headers did not arrive within "
                + "server.request_header_timeout (" + timeout + "); send them at once", null, true), null);
    }

    private void scheduleBodyCheck(ChannelHandlerContext ctx, long delayNanos) {
        cancelTimer();
        timer = ctx.executor().schedule(() -> bodyCheck(ctx), delayNanos, TimeUnit.NANOSECONDS);
    }

    /** Fires after a quiet period; re-arms for the rest of the window if body bytes came in meanwhile. */
    private void bodyCheck(ChannelHandlerContext ctx) {
        timer = null;
        if (rejected || !requestOpen || !ctx.channel().isActive()) {
            return;
        }
        long idle = System.nanoTime() - lastBodyRead;
        if (idle < timeoutNanos) {
            scheduleBodyCheck(ctx, timeoutNanos - idle);
            return;
        }
        if (responseOpen) {
            // An answer is already going out (an early error); just stop waiting for the body.
            ctx.close();
            return;
        }
        reject(ctx, new KeymuxError(408, "request_timeout", "the request body stopped arriving for longer than "
                + "server.request_header_timeout (" + timeout + ")", null, true), null);
    }

    private void cancelTimer() {
        ScheduledFuture<?> t = timer;
        if (t != null) {
            t.cancel(false);
            timer = null;
        }
    }

    /**
     * Answers with the error from this handler's position (through the encoder), tells the listener,
     * then closes.
     *
     * @param request the decoded request refused, or {@code null} when the refusal is of a request's
     *     body or of headers that never completed
     */
    private void reject(ChannelHandlerContext ctx, KeymuxError error, @Nullable HttpRequest request) {
        rejected = true;
        cancelTimer();
        GuardRefusal refusal = describe(ctx, error.status(), request);
        byte[] body = error.body();
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(error.status()), Unpooled.wrappedBuffer(body));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
                .set("X-Request-Id", refusal.requestId());
        if (error.status() == 503) {
            response.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
        }
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        refusals.refused(refusal);
    }

    /** What the audit line says of a refused request: only what was read intact. */
    private GuardRefusal describe(ChannelHandlerContext ctx, int status, @Nullable HttpRequest request) {
        // A request whose line failed to decode carries Netty's placeholder method and target, not the client's.
        boolean lineRead = request != null && !(request.decoderResult().isFailure()
                && !(request.decoderResult().cause() instanceof TooLongHttpHeaderException));
        String method = lineRead ? safeName(request.method().name()) : null;
        String path = null;
        if (lineRead && OriginForm.problem(request.uri()) == null) {
            String uri = request.uri();
            int q = uri.indexOf('?');
            path = q < 0 ? uri : uri.substring(0, q);
        }
        // Past a decoder failure no header is to be trusted (Netty keeps none of a block it cut off).
        String sentId = request == null || request.decoderResult().isFailure()
                ? null : request.headers().get("X-Request-Id");
        // Echoed in the answer's headers: only a printable one (this request may be refused for a CR/LF).
        String requestId = ProxyPipeline.requestId(sentId != null && isPrintableAscii(sentId) ? sentId : null);
        return new GuardRefusal(requestId, AuditRecord.addressOf(ctx.channel().remoteAddress()), method, path,
                status, System.nanoTime() - requestStartNanos);
    }
}
