package io.keymux.server.guard;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Mono;

/**
 * A pause on a connection's own event loop: a timer, so no thread waits. An address that keeps
 * presenting wrong credentials gets its 401 after such a pause, from the proxy, the WebSocket
 * upgrade and the admin port alike.
 *
 * <pre>{@code
 * return LoopDelay.of(loop, hold).then(Mono.defer(() -> refuse(...)));
 * }</pre>
 */
public final class LoopDelay {

    private LoopDelay() {}

    /** Completes after {@code hold} on {@code loop} (at once when zero); cancelling cancels the timer. */
    public static Mono<Void> of(EventLoop loop, Duration hold) {
        if (hold.isZero()) {
            return Mono.empty();
        }
        return Mono.create(sink -> {
            ScheduledFuture<?> timer = loop.schedule(() -> sink.success(), hold.toNanos(), TimeUnit.NANOSECONDS);
            sink.onCancel(() -> timer.cancel(false));
        });
    }
}
