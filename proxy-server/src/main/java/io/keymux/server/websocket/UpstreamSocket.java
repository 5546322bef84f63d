package io.keymux.server.websocket;

import io.keymux.server.upstream.UpstreamPool;
import io.keymux.server.upstream.UpstreamTarget;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * keymux's side of one upstream WebSocket: a dedicated connection on the exchange's event loop
 * (never pooled), Netty's client handshaker, and then the frames, handed to {@link Events} as they
 * are read. The handshake's answer is a {@link Handshake} value: accepted (101), or refused with
 * the upstream's status, headers and (bounded) body, which the failover rules judge like any answer.
 *
 * <p>Only the loop's thread touches it; reading is switched off and on by the session
 * ({@link #pause}, {@link #resume}) so the upstream is never read faster than the client takes it.
 */
final class UpstreamSocket extends ChannelInboundHandlerAdapter {
    /** The most of a refused upgrade's body kept (enough for the error's {@code code}). */
    static final int REFUSAL_BODY_BYTES = 64 * 1024;

    /** What the upstream said to the upgrade. */
    sealed interface Handshake {
        /** 101: the session may start; {@code subprotocol} is what the upstream chose, or {@code null}. */
        record Accepted(UpstreamSocket socket, @Nullable String subprotocol, HttpHeaders headers) implements Handshake {}

        /** Any other status: the connection is closed already. */
        record Refused(int status, HttpHeaders headers, byte[] body) implements Handshake {}
    }

    /** The session's side: called on the loop, in order. */
    interface Events {
        /** One frame from the upstream; the callee owns it. */
        void upstreamFrame(WebSocketFrame frame);

        /** A read burst ended: the place to flush what was written to the client. */
        void upstreamReadComplete();

        /** The upstream connection can take writes again (or no longer can). */
        void upstreamWritabilityChanged();

        /** The upstream connection is gone (after a close frame, or without one). */
        void upstreamGone();
    }

    private final Promise<Handshake> handshake;
    private final WebSocketClientHandshaker handshaker;
    private final ArrayDeque<WebSocketFrame> held = new ArrayDeque<>(4);
    private @Nullable Channel channel;
    private @Nullable Events events;
    private @Nullable ScheduledFuture<?> answerTimer;
    private boolean gone;

    private UpstreamSocket(Promise<Handshake> handshake, WebSocketClientHandshaker handshaker) {
        this.handshake = handshake;
        this.handshaker = handshaker;
    }

    /**
     * Connects to {@code target} on {@code pool}'s loop and offers the upgrade with {@code headers}
     * (the key already injected) and {@code subprotocols}. The future fails with an
     * {@link IOException} (refused, reset, bad handshake) or a timeout; it completes on the loop.
     *
     * @param answerTimeout how long the upstream may take to answer the upgrade once connected
     */
    static Future<Handshake> open(UpstreamPool pool, UpstreamTarget target, HttpHeaders headers,
            @Nullable String subprotocols, int maxFrameBytes, Duration connectTimeout, Duration answerTimeout) {
        Promise<Handshake> promise = pool.loop().newPromise();
        URI uri;
        try {
            uri = new URI((target.origin().secure() ? "wss://" : "ws://") + target.hostHeader() + target.requestTarget());
        } catch (java.net.URISyntaxException e) {
            // Never the URI itself in the message: with query auth it holds the key.
            return promise.setFailure(new IOException("the upstream URI of this request is not valid"));
        }
        WebSocketClientHandshaker handshaker = WebSocketClientHandshakerFactory.newHandshaker(uri,
                WebSocketVersion.V13, subprotocols, false, headers, maxFrameBytes, true, false, -1, false, false);
        UpstreamSocket socket = new UpstreamSocket(promise, handshaker);
        int connectMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, connectTimeout.toMillis()));
        pool.connectDedicated(target.origin(), connectMillis, channel -> {
            channel.pipeline().addLast(new HttpClientCodec());
            channel.pipeline().addLast(new HttpObjectAggregator(REFUSAL_BODY_BYTES));
            channel.pipeline().addLast(socket);
        }).addListener((ChannelFutureListener) connected -> {
            if (!connected.isSuccess()) {
                promise.tryFailure(connected.cause());
                return;
            }
            Channel channel = connected.channel();
            socket.channel = channel;
            socket.answerTimer = channel.eventLoop().schedule(() -> {
                if (promise.tryFailure(ReadTimeoutException.INSTANCE)) {
                    channel.close();
                }
            }, Math.max(1, answerTimeout.toNanos()), TimeUnit.NANOSECONDS);
            handshaker.handshake(channel).addListener((ChannelFutureListener) sent -> {
                if (!sent.isSuccess()) {
                    promise.tryFailure(sent.cause());
                    channel.close();
                }
            });
        });
        return promise;
    }

    /** The connection (set once connected). */
    Channel channel() {
        Channel c = channel;
        if (c == null) {
            throw new IllegalStateException("not connected");
        }
        return c;
    }

    /** The session takes over: frames read since the 101 first, then the rest as they come. */
    void attach(Events session) {
        events = session;
        WebSocketFrame frame;
        while ((frame = held.poll()) != null) {
            session.upstreamFrame(frame);
        }
        session.upstreamReadComplete();
        if (gone) {
            session.upstreamGone();
            return;
        }
        resume();
    }

    /** Stops reading from the upstream (the client is not taking frames fast enough). */
    void pause() {
        channel().config().setAutoRead(false);
    }

    /** Reads from the upstream again. */
    void resume() {
        Channel c = channel();
        if (!c.config().isAutoRead()) {
            c.config().setAutoRead(true);
            c.read();
        }
    }

    /** Sends a close frame (when the code may be sent at all), then closes the connection. */
    void close(int code, String reason) {
        Channel c = channel;
        if (c == null || !c.isActive()) {
            return;
        }
        CloseWebSocketFrame frame = code > 0 && WebSocketCloseStatus.isValidStatusCode(code)
                ? new CloseWebSocketFrame(code, reason) : new CloseWebSocketFrame();
        c.writeAndFlush(frame).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!handshake.isDone() && msg instanceof FullHttpResponse response) {
            try {
                answered(ctx, response);
            } finally {
                response.release();
            }
            return;
        }
        if (msg instanceof WebSocketFrame frame) {
            Events session = events;
            if (session == null) {
                held.add(frame);
            } else {
                session.upstreamFrame(frame);
            }
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void answered(ChannelHandlerContext ctx, FullHttpResponse response) {
        stopAnswerTimer();
        HttpHeaders headers = new DefaultHttpHeaders().add(response.headers());
        if (!HttpResponseStatus.SWITCHING_PROTOCOLS.equals(response.status())) {
            handshake.trySuccess(new Handshake.Refused(response.status().code(), headers,
                    ByteBufUtil.getBytes(response.content())));
            ctx.close();
            return;
        }
        try {
            handshaker.finishHandshake(ctx.channel(), response);
        } catch (WebSocketHandshakeException e) {
            // A 101 that is not a valid WebSocket accept: the upstream is broken, as a reset would be.
            handshake.tryFailure(new IOException("the upstream's WebSocket handshake answer is invalid"));
            ctx.close();
            return;
        }
        // Until the session attaches, frames the upstream sends at once (session.created) are held,
        // and nothing more is read.
        ctx.channel().config().setAutoRead(false);
        handshake.trySuccess(new Handshake.Accepted(this, handshaker.actualSubprotocol(), headers));
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Events session = events;
        if (session != null) {
            session.upstreamReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Events session = events;
        if (session != null) {
            session.upstreamWritabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stopAnswerTimer();
        handshake.tryFailure(new ClosedChannelException());
        gone = true;
        Events session = events;
        if (session != null) {
            session.upstreamGone();
        }
        WebSocketFrame frame;
        if (session == null && handshake.isSuccess() && handshake.getNow() instanceof Handshake.Accepted) {
            return; // held frames go to the session when it attaches
        }
        while ((frame = held.poll()) != null) {
            frame.release();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (handshake.tryFailure(cause instanceof IOException || cause instanceof ReadTimeoutException ? cause
                : new IOException("the upstream connection failed: " + cause.getClass().getSimpleName()))) {
            stopAnswerTimer();
        }
        ctx.close();
    }

    /** Releases what is held when the session never attached (the client left meanwhile). */
    void abandon() {
        WebSocketFrame frame;
        while ((frame = held.poll()) != null) {
            frame.release();
        }
        Channel c = channel;
        if (c != null) {
            c.close();
        }
    }

    private void stopAnswerTimer() {
        ScheduledFuture<?> t = answerTimer;
        if (t != null) {
            t.cancel(false);
            answerTimer = null;
        }
    }
}
