package io.keymux.server.cache;

import io.keymux.core.cache.AnswerCache;
import io.keymux.core.cache.Flight;
import io.keymux.core.cache.FlightListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.keymux.server.pipeline.KeymuxError;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.Executor;
import java.util.function.DoubleConsumer;
import java.util.function.IntConsumer;
import reactor.core.publisher.Flux;
import reactor.netty.Connection;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerResponse;

/**
 * Answers a request that joined an identical one in flight ({@code X-Keymux-Cache: coalesced}). An
 * event stream is joined at once: the events so far, then the rest as they arrive. Any other answer
 * is sent once it is whole, so a leader that breaks leaves this request free to go on by itself.
 */
public final class CoalescedAnswer {
    private record Start(int status, String contentType, boolean eventStream) {}

    private record Done(double costUsd) {}

    private static final Object ABANDONED = new Object();
    /** The waiting request held more than {@link #MAX_HELD_BYTES} of the answer unsent: it is let go. */
    private static final Object OVERFLOWED = new Object();

    /**
     * How much of the flight's answer one waiting request may hold that its client has not taken
     * yet (the size of answer the store keeps): the leader never waits for a slow waiter, so without a
     * bound a waiter that reads slowly (or not at all) would hold the whole answer in memory.
     */
    static final int MAX_HELD_BYTES = AnswerCache.MAX_ANSWER_BYTES;

    private CoalescedAnswer() {}

    /**
     * Waits on {@code flight} and answers with its answer.
     *
     * @param loop the waiting request's event loop: what the flight tells (on the leader's loop) hops
     *     there, in order, before it touches this request
     * @param commit called with the status just before the headers go out (keymux's own headers are
     *     added there)
     * @param saved called with the original answer's cost once this request got all of it
     * @return {@code true} when this request was answered; {@code false} when the flight's answer did
     *     not come (not a 2xx, broken before anything was sent here): the request goes on by itself
     */
    public static Mono<Boolean> answer(Flight flight, Executor loop, HttpServerResponse response, IntConsumer commit,
            DoubleConsumer saved) {
        // Bytes told to this request and not yet taken by its client's write.
        AtomicLong held = new AtomicLong();
        Flux<Object> events = Flux.create(sink -> {
            FlightListener listener = new Listener(sink, loop, held);
            if (!flight.join(listener)) {
                listener.onAbandon();
                return;
            }
            sink.onDispose(() -> flight.leave(listener));
        }, FluxSink.OverflowStrategy.BUFFER);
        return events.switchOnFirst((first, all) -> {
            if (!(first.get() instanceof Start start)) {
                return Mono.just(false);
            }
            if (!start.eventStream()) {
                return all.skip(1).collectList().flatMap(list -> {
                    if (list.isEmpty() || !(list.get(list.size() - 1) instanceof Done done)) {
                        return Mono.just(false);
                    }
                    ByteArrayOutputStream body = new ByteArrayOutputStream();
                    for (Object event : list) {
                        if (event instanceof byte[] chunk) {
                            body.writeBytes(chunk);
                        }
                    }
                    byte[] bytes = body.toByteArray();
                    response.status(HttpResponseStatus.valueOf(start.status()));
                    response.responseHeaders().set(HttpHeaderNames.CONTENT_TYPE, start.contentType());
                    response.responseHeaders().set(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
                    commit.accept(start.status());
                    saved.accept(done.costUsd());
                    return response.sendByteArray(Mono.just(bytes)).then().then(Mono.just(true));
                });
            }
            response.status(HttpResponseStatus.valueOf(start.status()));
            response.responseHeaders().set(HttpHeaderNames.CONTENT_TYPE, start.contentType());
            commit.accept(start.status());
            Flux<ByteBuf> body = all.skip(1).handle((event, out) -> {
                if (event instanceof byte[] chunk) {
                    held.addAndGet(-chunk.length);
                    out.next(Unpooled.wrappedBuffer(chunk));
                } else {
                    if (event instanceof Done done) {
                        saved.accept(done.costUsd());
                    } else if (event == OVERFLOWED) {
                        // Too slow a reader to keep up with the others: a clear end instead of unbounded memory.
                        response.keepAlive(false);
                        out.next(Unpooled.wrappedBuffer(tooSlowEvent()));
                    } else {
                        // The leader broke after this stream began: it got the same end as the leader's.
                        response.keepAlive(false);
                    }
                    out.complete();
                }
            });
            return response.send(body, chunk -> true).then().then(Mono.fromRunnable(() -> {
                if (held.get() < 0) {
                    // Let go: the connection ends here, so the client cannot take the stream for whole.
                    response.withConnection(Connection::dispose);
                }
            })).then(Mono.just(true));
        }).next().defaultIfEmpty(false);
    }

    /** The SSE event that ends a stream whose client fell more than {@link #MAX_HELD_BYTES} behind. */
    static byte[] tooSlowEvent() {
        KeymuxError error = new KeymuxError(502, "upstream_unavailable", "this stream is shared with identical"
                + " requests and was read too slowly to keep up (more than " + MAX_HELD_BYTES + " bytes behind);"
                + " retry, with Cache-Control: no-cache for a stream of its own", null, false);
        return ("data: " + new String(error.body(), StandardCharsets.UTF_8) + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Hands each signal to the waiting request's loop; one FIFO executor keeps them in order. Past
     * {@link #MAX_HELD_BYTES} held, it tells nothing more but that the request was let go: a stream
     * already sent ends with an error event, an answer not yet sent goes on by itself (a miss).
     */
    private record Listener(FluxSink<Object> sink, Executor loop, AtomicLong held) implements FlightListener {
        @Override
        public void onStart(int status, String contentType, boolean eventStream) {
            Start start = new Start(status, contentType, eventStream);
            loop.execute(() -> sink.next(start));
        }

        @Override
        public void onChunk(byte[] chunk) {
            long now = held.get();
            if (now < 0) {
                return; // let go already
            }
            if (now + chunk.length > MAX_HELD_BYTES) {
                held.set(Long.MIN_VALUE / 2);
                loop.execute(() -> {
                    sink.next(OVERFLOWED);
                    sink.complete();
                });
                return;
            }
            held.addAndGet(chunk.length);
            loop.execute(() -> sink.next(chunk));
        }

        @Override
        public void onComplete(double costUsd) {
            if (held.get() < 0) {
                return;
            }
            Done done = new Done(costUsd);
            loop.execute(() -> {
                sink.next(done);
                sink.complete();
            });
        }

        @Override
        public void onAbandon() {
            if (held.get() < 0) {
                return;
            }
            loop.execute(() -> {
                sink.next(ABANDONED);
                sink.complete();
            });
        }
    }
}
