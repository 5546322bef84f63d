package io.keymux.server.cache;

import io.keymux.core.cache.Flight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.Objects;
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
     * Runs {@code work} (the leader's whole upstream path) for {@code flight}: the returned Mono ends
     * with it; cancelling the returned Mono (the leader's client left) cancels {@code work} only if
     * nobody else waits. Whatever way {@code work} ends, an unfinished flight is abandoned, so its
     * waiters go on by themselves.
     */
    public static Mono<Void> lead(Flight flight, Mono<Void> work) {
        Objects.requireNonNull(flight, "flight");
        Objects.requireNonNull(work, "work");
        return Mono.create(sink -> {
            Disposable.Swap running = Disposables.swap();
            flight.onIdle(running::dispose);
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
        Mono<Void> read = Mono.create(sink -> sink.onCancel(body.subscribe(
                chunk -> {
                    byte[] copy = ByteBufUtil.getBytes(chunk);
                    chunk.release();
                    flight.chunk(copy);
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
        Mono<Void> written = send.apply(toClient.asFlux()).onErrorResume(error -> Mono.empty());
        return Mono.when(written, read);
    }
}
