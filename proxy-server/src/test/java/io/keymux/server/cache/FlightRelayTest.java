package io.keymux.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.Await;
import io.keymux.core.cache.AnswerCache;
import io.keymux.core.cache.CacheKey;
import io.keymux.core.cache.CacheLookup;
import io.keymux.core.cache.Flight;
import io.keymux.core.cache.FlightListener;
import io.keymux.core.time.TimeSource;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * The leader's upstream work is cancelled on the leader's own event loop, also when the last
 * waiter to leave does so on another loop: the work's state (its attempt, its upstream connection)
 * is confined to the leader's loop.
 */
class FlightRelayTest {

    @Test
    void theLastWaiterLeavingOnAnotherLoopCancelsTheLeadersWorkOnTheLeadersLoop() throws Exception {
        EventLoop leaderLoop = new DefaultEventLoop();
        EventLoop waiterLoop = new DefaultEventLoop();
        try {
            AnswerCache cache = AnswerCache.createForTest(1 << 20, TimeSource.system());
            CacheKey key = CacheKey.of("chat", "client:app", "POST", "/v1/chat/completions",
                    "{}".getBytes(StandardCharsets.UTF_8));
            Flight flight = ((CacheLookup.Lead) cache.lookup(key, Duration.ofMinutes(1))).flight();
            AtomicReference<Thread> cancelledOn = new AtomicReference<>();
            Mono<Void> work = Mono.<Void>never().doOnCancel(() -> cancelledOn.set(Thread.currentThread()));
            Thread leaderThread = leaderLoop.submit(Thread::currentThread).get(5, TimeUnit.SECONDS);

            Disposable leader = leaderLoop.submit(() -> FlightRelay.lead(flight, leaderLoop, work).subscribe())
                    .get(5, TimeUnit.SECONDS);
            FlightListener waiter = new Quiet();
            assertThat(waiterLoop.submit(() -> flight.join(waiter)).get(5, TimeUnit.SECONDS)).isTrue();
            leaderLoop.submit(leader::dispose).get(5, TimeUnit.SECONDS); // the leader's client left
            assertThat(cancelledOn.get()).as("a waiter still wants the answer").isNull();

            waiterLoop.submit(() -> flight.leave(waiter)).get(5, TimeUnit.SECONDS);

            Await.until("the leader's work cancelled", () -> cancelledOn.get() != null, Duration.ofSeconds(5));
            assertThat(cancelledOn.get()).isSameAs(leaderThread);
        } finally {
            leaderLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            waiterLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static final class Quiet implements FlightListener {
        @Override
        public void onStart(int status, String contentType, boolean eventStream) {}

        @Override
        public void onChunk(byte[] chunk) {}

        @Override
        public void onComplete(double costUsd) {}

        @Override
        public void onAbandon() {}
    }
}
