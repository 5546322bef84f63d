package io.keymux.server.pipeline;

import io.keymux.config.model.TaskConfig;
import io.keymux.server.upstream.UpstreamConnection;
import io.keymux.server.upstream.UpstreamPool;
import io.keymux.server.upstream.UpstreamTarget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * One small upstream request whose answer keymux reads whole instead of relaying it (a page of a
 * list union): connect from the loop's pool, send, collect the body up to {@link #MAX_BYTES}, all on
 * the pool's event loop. Timeouts as for any attempt: {@code first_byte} for the head, then
 * {@code idle} between chunks. Cancelling gives the connection up (it closes).
 */
final class BufferedUpstreamCall implements UpstreamConnection.Answer {
    /** The most of an answer held: a list page is a few KiB per hundred objects. */
    static final int MAX_BYTES = 8 * 1024 * 1024;

    /** A whole answer. */
    record Whole(int status, HttpHeaders headers, byte[] body) {}

    private final TaskConfig task;
    private final UpstreamPool pool;
    private @Nullable MonoSink<Whole> sink;
    private @Nullable UpstreamConnection connection;
    private @Nullable HttpResponse head;
    private @Nullable CompositeByteBuf body;
    private @Nullable ScheduledFuture<?> timer;
    private boolean done;
    /** Sends the request again on a new connection after a stale pooled one; {@code null} once used. */
    private @Nullable Runnable resend;

    private BufferedUpstreamCall(UpstreamPool pool, TaskConfig task) {
        this.pool = pool;
        this.task = task;
    }

    /** GETs {@code target} with {@code headers} on {@code pool}; fails with a transport error (see {@link FailoverPolicy}). */
    static Mono<Whole> get(UpstreamPool pool, TaskConfig task, UpstreamTarget target, HttpHeaders headers) {
        return Mono.<Whole>create(sink -> {
            BufferedUpstreamCall call = new BufferedUpstreamCall(pool, task);
            call.sink = sink;
            sink.onCancel(() -> pool.loop().execute(call::cancel));
            if (pool.loop().inEventLoop()) {
                call.start(target, headers);
            } else {
                pool.loop().execute(() -> call.start(target, headers));
            }
        });
    }

    private void start(UpstreamTarget target, HttpHeaders headers) {
        resend = () -> send(target, headers, true);
        send(target, headers, false);
    }

    private void send(UpstreamTarget target, HttpHeaders headers, boolean fresh) {
        if (done) {
            return;
        }
        int connectMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, task.timeouts().connect().toMillis()));
        Future<UpstreamConnection> acquired = pool.acquire(target.origin(), connectMillis, fresh);
        acquired.addListener(f -> {
            if (!acquired.isSuccess()) {
                failed(acquired.cause());
                return;
            }
            UpstreamConnection c = acquired.getNow();
            if (done) {
                c.release();
                return;
            }
            connection = c;
            arm(task.timeouts().firstByte().toNanos());
            c.send(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target.requestTarget(),
                    Unpooled.EMPTY_BUFFER, headers, EmptyHttpHeaders.INSTANCE), this);
        });
    }

    private void arm(long nanos) {
        ScheduledFuture<?> old = timer;
        if (old != null) {
            old.cancel(false);
        }
        timer = pool.loop().schedule(() -> {
            UpstreamConnection c = connection;
            if (c != null) {
                c.abort(this, ReadTimeoutException.INSTANCE);
            } else {
                failed(ReadTimeoutException.INSTANCE);
            }
        }, Math.max(1, nanos), TimeUnit.NANOSECONDS);
    }

    @Override
    public void head(HttpResponse head) {
        this.head = head;
        this.body = Unpooled.compositeBuffer();
        arm(task.timeouts().idle().toNanos());
    }

    @Override
    public void content(ByteBuf content, boolean last) {
        CompositeByteBuf held = body;
        HttpResponse h = head;
        if (done || held == null || h == null) {
            content.release();
            return;
        }
        if (held.readableBytes() + content.readableBytes() > MAX_BYTES) {
            content.release();
            UpstreamConnection c = connection;
            if (c != null) {
                c.abort(this, new IOException("the upstream's list answer is larger than " + MAX_BYTES + " bytes"));
            }
            return;
        }
        held.addComponent(true, content);
        if (!last) {
            arm(task.timeouts().idle().toNanos());
            return;
        }
        byte[] bytes = ByteBufUtil.getBytes(held);
        finish();
        MonoSink<Whole> s = sink;
        if (s != null) {
            s.success(new Whole(h.status().code(), h.headers(), bytes));
        }
    }

    @Override
    public void failed(Throwable error) {
        if (done) {
            return;
        }
        Runnable again = resend;
        if (error instanceof UpstreamConnection.StaleConnectionException && again != null) {
            // The upstream had closed the pooled connection while idle: once more on a new one.
            resend = null;
            connection = null;
            head = null;
            CompositeByteBuf held = body;
            body = null;
            if (held != null) {
                held.release();
            }
            again.run();
            return;
        }
        finish();
        MonoSink<Whole> s = sink;
        if (s != null) {
            s.error(error);
        }
    }

    private void cancel() {
        if (done) {
            return;
        }
        UpstreamConnection c = connection;
        finish();
        if (c != null) {
            c.abandon(this);
        }
    }

    private void finish() {
        done = true;
        ScheduledFuture<?> t = timer;
        if (t != null) {
            t.cancel(false);
        }
        CompositeByteBuf held = body;
        body = null;
        if (held != null) {
            held.release();
        }
    }
}
