package io.keymux.server.cache;

import io.keymux.core.cache.Flight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The leader's side of coalescing: its upstream work runs apart from its client's subscription, so
 * a leader whose client hangs up keeps answering the requests that joined it; the work is cancelled
 * only when nobody waits any more ({@link Flight#onIdle}). Its answer's body goes through the flight
 * (each chunk copied once, for the joiners and the store) on the way to its own client.
 */
public final class FlightRelay {

    private FlightRelay() {}

    /**
     * Runs {@code work} (the leader's whole upstream path) for {@code flight} on the leader's
     * {@code loop}, where it is also cancelled whoever left last: the returned Mono ends
     * with it; cancelling the returned Mono (the leader's client left) cancels {@code work} only if
     * nobody else waits. Whatever way {@code work} ends, an unfinished flight is abandoned, so its
     * waiters go on by themselves.
     */
    public static Mono<Void> lead(Flight flight, EventExecutor loop, Mono<Void> work) {
        Objects.requireNonNull(flight, "flight");
        Objects.requireNonNull(loop, "loop");
        Objects.requireNonNull(work, "work");
        return Mono.create(sink -> {
            Disposable.Swap running = Disposables.swap();
            // The last waiter may leave on its own loop: cancelling the leader's work there would
            // touch the leader's attempt and upstream connection from a foreign thread.
            flight.onIdle(() -> {
                if (loop.inEventLoop()) {
                    running.dispose();
                } else {
                    loop.execute(running::dispose);
                }
            });
            sink.onCancel(flight::leaderLeft);
            running.update(work.doFinally(signal -> flight.abandon())
                    .subscribe(null, sink::error, sink::success));
        });
    }

    /**
     * Sends the leader's answer to its client through {@code flight}. A non-2xx status is sent as it
     * is (the flight is abandoned). Otherwise the body is read by the flight, not by the client's
     * write: a client that goes away stops getting bytes but the body is still read to its end for
     * the others and the store. Once read, the answer is stored when {@code whole} (not broken), else
     * the flight is abandoned.
     *
     * @param body the answer's body, each chunk one reference this method releases
     * @param send writes a body to the leader's client
     * @param cost the answer's settled cost once whole (negative when unknown)
     */
    public static Mono<Void> through(Flight flight, int status, String contentType, boolean eventStream,
            Flux<ByteBuf> body, Function<Flux<ByteBuf>, Mono<Void>> send, BooleanSupplier whole, DoubleSupplier cost) {
        if (!flight.start(status, contentType, eventStream)) {
            return send.apply(body);
        }
        Sinks.Many<ByteBuf> toClient = Sinks.many().unicast().onBackpressureBuffer();
        // The read runs at the pace of the upstream, not of the leader's client: what that client has
        // not taken yet is bounded, past which it is let go (as a slow waiter is, CoalescedAnswer).
        AtomicLong unsent = new AtomicLong();
        Mono<Void> read = Mono.create(sink -> sink.onCancel(body.subscribe(
                chunk -> {
                    byte[] copy = ByteBufUtil.getBytes(chunk);
                    chunk.release();
                    flight.chunk(copy);
                    long behind = unsent.get();
                    if (behind < 0) {
                        return; // let go already
                    }
                    if (behind + copy.length > CoalescedAnswer.MAX_HELD_BYTES) {
                        unsent.set(Long.MIN_VALUE / 2);
                        if (eventStream) {
                            toClient.tryEmitNext(Unpooled.wrappedBuffer(CoalescedAnswer.tooSlowEvent()));
                            toClient.tryEmitComplete();
                        } else {
                            toClient.tryEmitError(new IOException("the client read the answer too slowly"));
                        }
                        return;
                    }
                    unsent.addAndGet(copy.length);
                    toClient.tryEmitNext(Unpooled.wrappedBuffer(copy));
                },
                error -> {
                    flight.abandon();
                    toClient.tryEmitError(error);
                    sink.error(error);
                },
                () -> {
                    if (whole.getAsBoolean()) {
                        flight.complete(cost.getAsDouble());
                    } else {
                        flight.abandon();
                    }
                    toClient.tryEmitComplete();
                    sink.success();
                })));
        // The client's write failing (it hung up) must not stop the read: the others still need it.
        Mono<Void> written = send.apply(toClient.asFlux().doOnNext(chunk -> unsent.addAndGet(-chunk.readableBytes())))
                .onErrorResume(error -> Mono.empty());
        return Mono.when(written, read);
    }
}
