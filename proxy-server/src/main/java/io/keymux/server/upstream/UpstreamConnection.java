package io.keymux.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * One pooled HTTP/1.1 connection to an upstream, and the last handler of its pipeline: it hands the
 * answer to one exchange at a time ({@link Answer}) and goes back to its {@link UpstreamPool} when
 * the answer is in whole and both sides keep the connection alive.
 *
 * <p>Auto-read stays on: the socket is read as fast as data comes, and an exchange whose client
 * cannot keep up calls {@link #pause()} and later {@link #resume()} (back-pressure by the client's
 * writability, so nothing is toggled per request). Everything here runs on the connection's event
 * loop, which is the loop of the exchange using it.
 */
public final class UpstreamConnection extends ChannelInboundHandlerAdapter {

    /** What one exchange gets from its connection, in this order: a head, contents, the last content; or a failure. */
    public interface Answer {
        /** The response head (informational 1xx heads are skipped). */
        void head(HttpResponse head);

        /**
         * A piece of the body; the callee owns {@code content}'s reference.
         *
         * @param last whether this is the end of the answer (the connection is then no longer this exchange's)
         */
        void content(ByteBuf content, boolean last);

        /** The exchange broke: connect, write, read, decode, timeout, or the upstream closed early. Called at most once. */
        void failed(Throwable error);
    }

    /** The upstream closed the connection, or sent what HTTP/1.1 cannot decode, before the answer was complete. */
    public static final class BrokenAnswerException extends IOException {
        private static final long serialVersionUID = 1L;

        BrokenAnswerException(String message, @Nullable Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * A pooled connection failed before a byte of its answer came back: most likely the upstream had
     * closed it while it sat idle (its keep-alive timeout racing ours), so the failure says nothing
     * about the key. The request is sent once more on a new connection, and nothing is charged.
     */
    public static final class StaleConnectionException extends IOException {
        private static final long serialVersionUID = 1L;

        StaleConnectionException(Throwable cause) {
            super("the pooled upstream connection was closed before it answered", cause);
        }
    }

    private final UpstreamPool pool;
    private final Origin origin;
    /** The connection answered an exchange before (it came from the pool, not a new connect). */
    boolean servedBefore;
    /** A byte of the current exchange's answer has arrived. */
    private boolean answerStarted;
    private @Nullable Channel channel;
    private @Nullable Answer answer;
    /** Whether both the request and the response so far keep the connection alive. */
    private boolean reusable;
    /** Skipping an informational (1xx) response up to its end. */
    private boolean informational;
    /** When the connection last went idle in the pool, {@link System#nanoTime()}. */
    long idleSince;

    UpstreamConnection(UpstreamPool pool, Origin origin) {
        this.pool = pool;
        this.origin = origin;
    }

    Origin origin() {
        return origin;
    }

    /** The channel (set once the pipeline is built). */
    public Channel channel() {
        Channel c = channel;
        if (c == null) {
            throw new IllegalStateException("the connection has no channel yet");
        }
        return c;
    }

    /** Whether the socket is open. */
    boolean isActive() {
        Channel c = channel;
        return c != null && c.isActive();
    }

    /**
     * Sends one whole request (head and body leave in one flush) and routes its answer to
     * {@code answer}. A write that fails reaches {@link Answer#failed}.
     */
    public void send(HttpRequest request, Answer answer) {
        Channel c = channel();
        this.answer = answer;
        this.reusable = HttpUtil.isKeepAlive(request);
        this.informational = false;
        this.answerStarted = false;
        c.writeAndFlush(request).addListener(written -> {
            if (!written.isSuccess()) {
                fail(staleOr(written.cause()));
            }
        });
    }

    /**
     * Stops reading from the upstream until {@link #resume}: the client's side is full. Like the other
     * calls below it does nothing unless {@code who} is the exchange the connection serves, so an
     * attempt that finished cannot touch the connection once it serves another.
     */
    public void pause(Answer who) {
        Channel c = channel;
        if (answer == who && c != null && c.config().isAutoRead()) {
            c.config().setAutoRead(false);
        }
    }

    /** Reads from the upstream again. */
    public void resume(Answer who) {
        Channel c = channel;
        if (answer == who && c != null && !c.config().isAutoRead()) {
            c.config().setAutoRead(true);
        }
    }

    /** Fails {@code who}'s exchange with {@code error} (a timeout) and closes the connection. */
    public void abort(Answer who, Throwable error) {
        if (answer == who) {
            fail(error);
        }
    }

    /**
     * {@code who} hands the rest of its answer to {@code next}, which gets the contents and the
     * failure from now on (a refused answer's body drained in the background while the exchange
     * goes on elsewhere).
     */
    public void handOver(Answer who, Answer next) {
        if (answer == who) {
            answer = next;
        }
    }

    /** {@code who} gives up its exchange (its client left): the connection closes, nobody is told. */
    public void abandon(Answer who) {
        if (answer == who) {
            close();
        }
    }

    /** {@code error} as a {@link StaleConnectionException} when it broke a reused connection before its answer. */
    private Throwable staleOr(Throwable error) {
        return servedBefore && !answerStarted ? new StaleConnectionException(error) : error;
    }

    private void fail(Throwable error) {
        Answer current = answer;
        answer = null;
        close();
        if (current != null) {
            current.failed(error);
        }
    }

    /** Closes the connection; an answer in progress is not told. */
    /** Closes the connection; the future completes when its channel has closed (null: it had none). */
    @Nullable ChannelFuture close() {
        answer = null;
        Channel c = channel;
        return c == null ? null : c.close();
    }

    /** Back to the pool: {@link UpstreamPool#acquire} handed out a connection that turned out not to be needed. */
    public void release() {
        if (answer == null && isActive()) {
            pool.release(this);
        } else {
            close();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Answer current = answer;
        if (current == null) {
            // Bytes nobody asked for (an idle connection the upstream writes to): it cannot be trusted again.
            ReferenceCountUtil.release(msg);
            close();
            return;
        }
        answerStarted = true;
        if (msg instanceof HttpObject object) {
            DecoderResult result = object.decoderResult();
            if (result.isFailure()) {
                ReferenceCountUtil.release(msg);
                fail(new BrokenAnswerException("the upstream's answer is not valid HTTP/1.1", result.cause()));
                return;
            }
        }
        if (msg instanceof HttpResponse head) {
            HttpResponseStatus status = head.status();
            if (status.code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                // Nothing here asked to switch (WebSockets have their own path): what follows is not
                // HTTP, so the answer is broken, the connection unusable, and the client gets no 101.
                ReferenceCountUtil.release(msg);
                fail(new BrokenAnswerException("the upstream answered 101 Switching Protocols to a plain request",
                        null));
                return;
            }
            if (status.codeClass() == HttpStatusClass.INFORMATIONAL
                    && status.code() != HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                informational = true; // 100 Continue, 103 Early Hints: the real answer follows
            } else {
                reusable &= HttpUtil.isKeepAlive(head);
                current.head(head);
            }
        }
        if (msg instanceof HttpContent content) {
            boolean last = content instanceof LastHttpContent;
            if (informational) {
                content.release();
                informational = !last;
                return;
            }
            if (last) {
                // The answer is in whole: the connection goes back to the pool before the exchange
                // goes on, so the next exchange on this loop can take it.
                answer = null;
                ctx.channel().config().setAutoRead(true); // a no-op unless the exchange had paused it
                if (reusable && ctx.channel().isActive()) {
                    pool.release(this);
                } else {
                    close();
                }
            }
            current.content(content.content(), last);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (answer != null) {
            fail(staleOr(new BrokenAnswerException("the upstream closed the connection before the answer was complete",
                    null)));
        } else {
            pool.forget(this);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (answer != null) {
            fail(staleOr(cause));
        } else {
            close();
        }
    }
}
