package io.keymux.server.websocket;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.metrics.ProxyMetrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.netty.http.websocket.WebsocketInbound;
import reactor.netty.http.websocket.WebsocketOutbound;

/**
 * One accepted WebSocket session: frames relayed both ways as they come, each frame's buffer
 * forwarded as it is (no copy), never retried. Back-pressure both ways: a client frame is asked for
 * only when the upstream connection can take a write, and the upstream is not read while the
 * client's connection cannot take more. Usage in {@code response.done} events is counted as it
 * arrives ({@link RealtimeUsage}).
 *
 * <p>It ends once, at the first of: either side closes (its code and reason go to the other side),
 * either connection drops, {@code timeouts.idle} without a frame either way, or
 * {@code server.max_websocket_session} (both sides get 1001). Then the lease is settled (its
 * concurrency slot was held all along), the gauge goes down and the audit line is written.
 *
 * <p>Both connections live on one event loop; everything here runs on it.
 */
final class WebSocketSession implements UpstreamSocket.Events {
    /** The most of one fragmented text message copied aside to look for usage in. */
    static final int MAX_SCANNED_MESSAGE = 1024 * 1024;
    /** Close code "going away": timeouts and a client that vanished. */
    static final int GOING_AWAY = 1001;
    private static final String WRITABILITY_HANDLER = "keymux.websocket.writability";

    private final SessionRecord record;
    private final Lease lease;
    private final UpstreamSocket upstream;
    private final ProxyMetrics metrics;
    private final AuditLog audit;
    private final TimeSource time;
    private final EventLoop loop;
    private final long idleNanos;
    private final Duration maxSession;
    /** Time from sending the upgrade to the upstream's 101, settled as the attempt's latency. */
    private final long handshakeNanos;

    private @Nullable WebsocketOutbound out;
    private @Nullable Channel client;
    private @Nullable MonoSink<Void> ended;
    private @Nullable ClientFrames fromClient;
    private long lastFrameNanos;
    private io.netty.util.concurrent.@Nullable ScheduledFuture<?> idleTimer;
    private io.netty.util.concurrent.@Nullable ScheduledFuture<?> maxTimer;
    private boolean closedToClient;
    private boolean closedToUpstream;
    private boolean over;
    /** {@link #run} was called: the client's handshake went through. */
    private boolean started;
    /** The client's close frame, as Reactor Netty saw it (it answers the client's close itself). */
    private @Nullable WebSocketCloseStatus clientClose;
    /** Inside a fragmented text message from the upstream: its parts so far, or {@code null}. */
    private @Nullable CompositeByteBuf textMessage;
    private boolean inTextMessage;

    WebSocketSession(SessionRecord record, Lease lease, UpstreamSocket upstream, ProxyMetrics metrics, AuditLog audit,
            TimeSource time, EventLoop loop, Duration idle, Duration maxSession, long handshakeNanos) {
        this.record = record;
        this.lease = lease;
        this.upstream = upstream;
        this.metrics = metrics;
        this.audit = audit;
        this.time = time;
        this.loop = loop;
        this.idleNanos = Math.max(1, idle.toNanos());
        this.maxSession = maxSession;
        this.handshakeNanos = handshakeNanos;
    }

    /** The handler for {@code sendWebsocket}: completes when the session is over. */
    Mono<Void> run(WebsocketInbound in, WebsocketOutbound outbound) {
        return Mono.<Void>create(sink -> {
            ended = sink;
            out = outbound;
            sink.onDispose(() -> end(GOING_AWAY, "keymux: the client connection ended"));
            in.withConnection(connection -> {
                client = connection.channel();
                connection.addHandlerLast(WRITABILITY_HANDLER, new ClientWritability());
            });
            started = true;
            metrics.websocketOpened(SessionRecord.label(record.task), SessionRecord.label(record.keyId));
            lastFrameNanos = System.nanoTime();
            idleTimer = loop.schedule(this::checkIdle, idleNanos, TimeUnit.NANOSECONDS);
            maxTimer = loop.schedule(() -> closeBoth(GOING_AWAY, "keymux: server.max_websocket_session reached"),
                    Math.max(1, maxSession.toNanos()), TimeUnit.NANOSECONDS);
            in.receiveCloseStatus().subscribe(status -> clientClose = status);
            ClientFrames frames = new ClientFrames();
            fromClient = frames;
            in.receiveFrames().subscribe(frames);
            upstream.attach(this);
        });
    }

    // ---- Client → upstream: one frame asked for at a time, while the upstream can take it ---------

    /** Frames from the client, asked for one at a time (Reactor Netty stops reading without demand). */
    private final class ClientFrames extends BaseSubscriber<WebSocketFrame> {
        /** A frame was written while the upstream could take no more: ask again once it can. */
        private boolean waitingForUpstream;

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            request(1);
        }

        @Override
        protected void hookOnNext(WebSocketFrame frame) {
            lastFrameNanos = System.nanoTime();
            if (over || closedToUpstream) {
                return; // Reactor Netty releases the frame after this returns
            }
            Channel channel = upstream.channel();
            // Reactor Netty releases the frame after onNext: the retained reference is the write's.
            channel.writeAndFlush(frame.retain());
            if (channel.isWritable()) {
                request(1);
            } else {
                waitingForUpstream = true;
            }
        }

        void upstreamWritable() {
            if (waitingForUpstream && upstream.channel().isWritable()) {
                waitingForUpstream = false;
                request(1);
            }
        }

        @Override
        protected void hookOnComplete() {
            clientEnded();
        }

        @Override
        protected void hookOnError(Throwable error) {
            clientEnded();
        }
    }

    /** The client's side is done: pass its close code on (1001 when it just went away). */
    private void clientEnded() {
        WebSocketCloseStatus status = clientClose;
        closedToClient = true; // Reactor Netty answered the client's close frame itself
        if (status != null && status.code() > 0 && WebSocketCloseStatus.isValidStatusCode(status.code())) {
            closeUpstream(status.code(), status.reasonText());
        } else if (status != null && status.code() < 0) {
            closeUpstream(-1, "");
        } else {
            closeUpstream(GOING_AWAY, "keymux: the client went away");
        }
        end(0, "");
    }

    @Override
    public void upstreamWritabilityChanged() {
        ClientFrames frames = fromClient;
        if (frames != null) {
            frames.upstreamWritable();
        }
    }

    // ---- Upstream → client: read while the client's connection can take it -----------------------

    @Override
    public void upstreamFrame(WebSocketFrame frame) {
        lastFrameNanos = System.nanoTime();
        if (frame instanceof CloseWebSocketFrame close) {
            int code = close.statusCode();
            String reason = code < 0 ? "" : close.reasonText();
            close.release();
            closeClient(code, reason);
            // Answer the upstream's close, as the protocol wants, and let go of the connection.
            closeUpstream(code, reason);
            end(0, "");
            return;
        }
        Channel to = client;
        if (over || closedToClient || to == null) {
            frame.release();
            return;
        }
        scanForUsage(frame);
        to.write(frame);
        if (!to.isWritable()) {
            upstream.pause();
        }
    }

    @Override
    public void upstreamReadComplete() {
        Channel to = client;
        if (to != null) {
            to.flush();
        }
    }

    @Override
    public void upstreamGone() {
        closeClient(WebSocketCloseStatus.INTERNAL_SERVER_ERROR.code(), "keymux: the upstream connection ended");
        closedToUpstream = true;
        end(0, "");
    }

    /** The client's connection can take writes again: read the upstream again. */
    private final class ClientWritability extends ChannelInboundHandlerAdapter {
        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && !over) {
                upstream.resume();
            }
            ctx.fireChannelWritabilityChanged();
        }
    }

    // ---- Usage ------------------------------------------------------------------------------------

    /** Looks at upstream text messages (whole, or fragments gathered up to a bound) for usage. */
    private void scanForUsage(WebSocketFrame frame) {
        if (frame instanceof TextWebSocketFrame) {
            if (frame.isFinalFragment()) {
                count(RealtimeUsage.of(frame.content()));
                return;
            }
            inTextMessage = true;
            textMessage = frame.content().alloc().compositeBuffer();
            gather(frame.content());
        } else if (frame instanceof ContinuationWebSocketFrame && inTextMessage) {
            gather(frame.content());
            if (frame.isFinalFragment()) {
                CompositeByteBuf message = textMessage;
                if (message != null) {
                    count(RealtimeUsage.of(message));
                    message.release();
                }
                textMessage = null;
                inTextMessage = false;
            }
        }
    }

    /** A copy of a fragment aside (the fragment itself goes on to the client); past the bound, none. */
    private void gather(ByteBuf fragment) {
        CompositeByteBuf message = textMessage;
        if (message == null) {
            return;
        }
        if (message.readableBytes() + fragment.readableBytes() > MAX_SCANNED_MESSAGE) {
            message.release();
            textMessage = null;
            return;
        }
        message.addComponent(true, fragment.copy());
    }

    private void count(@Nullable RealtimeUsage usage) {
        if (usage == null) {
            return;
        }
        ApiKeyConfig key = lease.key();
        double cost = key.costUsd(usage.inputTokens(), usage.outputTokens());
        record.usageSeen = true;
        record.promptTokens += usage.inputTokens();
        record.completionTokens += usage.outputTokens();
        record.cachedTokens += usage.cachedTokens();
        record.costUsd += cost;
        String task = SessionRecord.label(record.task);
        metrics.tokens(task, key.keyId(), usage.inputTokens(), usage.outputTokens());
        metrics.cost(task, key.keyId(), SessionRecord.label(record.client), cost);
    }

    // ---- Ending -----------------------------------------------------------------------------------

    private void checkIdle() {
        idleTimer = null;
        if (over) {
            return;
        }
        long quiet = System.nanoTime() - lastFrameNanos;
        if (quiet >= idleNanos) {
            closeBoth(GOING_AWAY, "keymux: no frame for tasks[].timeouts.idle");
        } else {
            idleTimer = loop.schedule(this::checkIdle, idleNanos - quiet, TimeUnit.NANOSECONDS);
        }
    }

    private void closeBoth(int code, String reason) {
        closeClient(code, reason);
        closeUpstream(code, reason);
        end(0, "");
    }

    /** Sends the client a close frame with {@code code} (an empty one when there is none), then closes. */
    private void closeClient(int code, String reason) {
        WebsocketOutbound outbound = out;
        if (closedToClient || outbound == null) {
            return;
        }
        closedToClient = true;
        Mono<Void> close = code > 0 && WebSocketCloseStatus.isValidStatusCode(code)
                ? outbound.sendClose(code, reason) : outbound.sendClose();
        // Written after every frame already on its way; the connection closes once it is out.
        close.subscribe(null, error -> { });
    }

    private void closeUpstream(int code, String reason) {
        if (closedToUpstream) {
            return;
        }
        closedToUpstream = true;
        upstream.close(code, reason);
    }

    /**
     * The session is over (once): settle the lease with the usage seen, gauge down, audit line. An
     * end that comes from neither side's close (the client's connection was disposed) closes both.
     */
    private void end(int code, String reason) {
        if (over) {
            return;
        }
        if (code > 0) {
            closeClient(code, reason);
            closeUpstream(code, reason);
        }
        over = true;
        cancel(idleTimer);
        cancel(maxTimer);
        CompositeByteBuf message = textMessage;
        if (message != null) {
            message.release();
            textMessage = null;
        }
        long now = time.nanoTime();
        lease.settle(new Outcome.Answered(101, record.promptTokens, record.completionTokens, record.usageSeen,
                handshakeNanos));
        metrics.websocketClosed(SessionRecord.label(record.task), SessionRecord.label(record.keyId));
        record.finish(now, metrics, audit);
        MonoSink<Void> sink = ended;
        ended = null;
        if (sink != null) {
            sink.success();
        }
    }

    /**
     * The client's side of the handshake failed after the upstream accepted (a malformed upgrade that
     * got past the checks): give the key and the upstream connection back, and write the audit line.
     */
    void neverStarted(int status) {
        if (started || over) {
            return;
        }
        over = true;
        upstream.abandon();
        lease.settle(new Outcome.Cancelled());
        record.status = status;
        record.finish(time.nanoTime(), metrics, audit);
    }

    private static void cancel(io.netty.util.concurrent.@Nullable ScheduledFuture<?> timer) {
        if (timer != null) {
            timer.cancel(false);
        }
    }
}
