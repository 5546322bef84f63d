package io.keymux.server.pipeline;

import io.keymux.server.upstream.UpstreamConnection;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The rest of a refused answer's body (a status the task retries, judged at the head or on the
 * first bytes), read in the background once the retry has gone on, so its connection can go back to
 * its pool: up to {@link #MAX_BYTES} and one idle timeout. A body that stalls or keeps coming only
 * costs that connection, which is closed instead. The attempt hands its connection's answer over
 * ({@link UpstreamConnection#handOver}), so the attempt itself is done with it.
 */
final class RefusedBodyDrain implements UpstreamConnection.Answer {
    /** The most of a refused answer's body read in the background before its connection is closed instead. */
    static final int MAX_BYTES = 64 * 1024;

    private final UpstreamConnection connection;
    /** Gives up after one idle timeout. */
    private final ScheduledFuture<?> guard;
    private long drainedBytes;
    private boolean over;

    private RefusedBodyDrain(UpstreamConnection connection, Duration idle) {
        this.connection = connection;
        // Runs on this loop, so not before the constructor has returned.
        this.guard = connection.channel().eventLoop().schedule(this::giveUp, Math.max(1, idle.toNanos()),
                TimeUnit.NANOSECONDS);
    }

    /** Takes the rest of {@code from}'s answer on {@code connection}, for at most {@code idle}. */
    static void start(UpstreamConnection connection, UpstreamConnection.Answer from, Duration idle) {
        connection.handOver(from, new RefusedBodyDrain(connection, idle));
    }

    @Override
    public void head(HttpResponse head) {
        // The head went to the attempt: nothing more comes here.
    }

    @Override
    public void content(ByteBuf content, boolean last) {
        drainedBytes += content.readableBytes();
        content.release();
        if (over) {
            return;
        }
        if (last) {
            // The connection is back in its pool.
            over = true;
            guard.cancel(false);
        } else if (drainedBytes > MAX_BYTES) {
            guard.cancel(false);
            giveUp();
        }
    }

    @Override
    public void failed(Throwable error) {
        // A refused body that broke only costs its connection; the retry went on already.
        over = true;
        guard.cancel(false);
    }

    /** The refused body did not end in time or is too long: close its connection. */
    private void giveUp() {
        if (!over) {
            over = true;
            connection.abandon(this);
        }
    }
}
