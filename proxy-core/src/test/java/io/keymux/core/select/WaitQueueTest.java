package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Waiting for capacity: priority order, wake-ups on refill and settle, max_wait, cancellation. */
class WaitQueueTest {

    /** One key of 1 request a minute shared by a high- and a low-priority task. */
    private static BrokerFixture scarce() {
        return new BrokerFixture(TestConfigs.empty().task(task("high").priority(5).maxWait(Duration.ofMinutes(10)))
                .task(task("low").priority(1).maxWait(Duration.ofMinutes(10)))
                .key(key("k", "high", "low").maxRpm(1L)).build());
    }

    @Test
    void queuedHighPriorityRequestsAreGrantedFirst() {
        try (BrokerFixture f = scarce()) {
            f.lease("low");
            List<String> granted = new ArrayList<>();
            CompletableFuture<Admission> low1 = track(f.acquire("low", 1), "low1", granted);
            CompletableFuture<Admission> high1 = track(f.acquire("high", 1), "high1", granted);
            CompletableFuture<Admission> low2 = track(f.acquire("low", 1), "low2", granted);
            CompletableFuture<Admission> high2 = track(f.acquire("high", 1), "high2", granted);
            assertThat(List.of(low1, high1, low2, high2)).noneMatch(CompletableFuture::isDone);

            // One token a minute: the timer wakes the queue at each refill, no polling in between.
            f.timer.advance(Duration.ofSeconds(59));
            assertThat(granted).isEmpty();
            f.timer.advance(Duration.ofSeconds(1));
            assertThat(granted).containsExactly("high1");
            f.timer.advance(Duration.ofMinutes(1));
            f.timer.advance(Duration.ofMinutes(1));
            f.timer.advance(Duration.ofMinutes(1));
            assertThat(granted).containsExactly("high1", "high2", "low1", "low2");
            assertThat(high1.join()).isInstanceOf(Lease.class);
            assertThat(((Lease) high1.join()).queuedNanos()).isEqualTo(Duration.ofSeconds(60).toNanos());
        }
    }

    @Test
    void aSettledLeaseWakesTheQueue() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(5)))
                .key(key("k", "t").maxConcurrent(1)).build())) {
            Lease held = f.lease("t");
            CompletableFuture<Admission> waiter = f.acquire("t", 1);
            assertThat(waiter).isNotDone();
            held.settle(new Outcome.Answered(200, 1, 1, true, 1));
            assertThat(waiter).isCompleted();
            assertThat(waiter.join()).isInstanceOf(Lease.class);
        }
    }

    @Test
    void pastMaxWaitTheRequestIsRejectedWithTheTimeToTheSoonestRefill() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(5)))
                .key(key("k", "t").maxRpm(1L)).build())) {
            f.lease("t");
            CompletableFuture<Admission> waiter = f.acquire("t", 1);
            f.timer.advance(Duration.ofMillis(4_999));
            assertThat(waiter).isNotDone();
            f.timer.advance(Duration.ofMillis(1));
            Rejection r = (Rejection) waiter.join();
            assertThat(r.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(r.retryAfter()).isEqualTo(Duration.ofSeconds(55));
            assertThat(r.message()).contains("rate limits (1 key)").contains("'t'");
        }
    }

    @Test
    void retryAfterIsNeverBelowOneSecond() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofMillis(800)))
                .key(key("k", "t").maxRpm(60L).rpmBurst(1L)).build())) {
            f.lease("t");
            CompletableFuture<Admission> waiter = f.acquire("t", 1);
            f.timer.advance(Duration.ofMillis(800));
            Rejection r = (Rejection) waiter.join();
            // 200 ms to the next refill, rounded up to the 1 s a Retry-After header can say.
            assertThat(r.retryAfter()).isEqualTo(Duration.ofSeconds(1));
        }
    }

    @Test
    void zeroMaxWaitRejectsAtOnce() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxRpm(1L)).build())) {
            f.lease("t");
            Rejection r = f.rejection("t", 1);
            assertThat(r.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(r.retryAfter()).isEqualTo(Duration.ofSeconds(60));
        }
    }

    @Test
    void cancellingAWaiterRemovesItWithoutLeakingCapacity() {
        try (BrokerFixture f = scarce()) {
            f.lease("high");
            CompletableFuture<Admission> cancelled = f.acquire("high", 1);
            CompletableFuture<Admission> other = f.acquire("low", 1);
            assertThat(cancelled.cancel(true)).isTrue();
            f.timer.advance(Duration.ofMinutes(1));
            // The refilled token went to the remaining waiter, not to the cancelled one.
            assertThat(other.join()).isInstanceOf(Lease.class);
            assertThat(f.status("k").usage().inFlight()).isEqualTo(2);
            f.timer.advance(Duration.ofMinutes(1));
            assertThat(f.lease("low").key().keyId()).isEqualTo("k");
        }
    }

    @Test
    void aLeaseGrantedToACancelledWaiterIsReleased() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofMinutes(5)))
                .key(key("k", "t").maxRpm(2L)).build())) {
            f.lease("t");
            f.lease("t");
            CompletableFuture<Admission> first = f.acquire("t", 1);
            CompletableFuture<Admission> second = f.acquire("t", 1);
            // Both are granted by the same drain at the refill; granting the first cancels the second
            // after the broker took its lease but before handing it over: the race of a client leaving.
            first.thenAccept(a -> second.cancel(true));
            f.timer.advance(Duration.ofMinutes(1));
            assertThat(first.join()).isInstanceOf(Lease.class);
            assertThat(second).isCancelled();
            // The two held at the start plus the first waiter's; the second's slot was given back.
            assertThat(f.status("k").usage().inFlight()).isEqualTo(3);
            // The second lease's request token came back: one more lease now, then the next one waits.
            f.lease("t");
            assertThat(f.acquire("t", 1)).isNotDone();
        }
    }

    @Test
    void closeRejectsWaitersAndStopsTheTimer() {
        BrokerFixture f = scarce();
        f.lease("low");
        CompletableFuture<Admission> waiter = f.acquire("high", 1);
        f.close();
        assertThat(waiter.join()).isInstanceOf(Rejection.class);
        assertThat(f.timer.closed).isTrue();
    }

    @Test
    void waitersOfOtherPoolsDoNotHoldUpARequestWhoseKeysHaveRoom() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty()
                .task(task("busy").priority(9).maxWait(Duration.ofMinutes(1))).task(task("free").priority(0))
                .key(key("k", "busy").maxRpm(1L)).key(key("other", "free")).build())) {
            f.lease("busy");
            CompletableFuture<Admission> waiting = f.acquire("busy", 1);
            assertThat(waiting).isNotDone();
            assertThat(f.lease("free").key().keyId()).isEqualTo("other");
        }
    }

    @Test
    void aLowerPriorityArrivalQueuesBehindHigherPriorityWaitersOfTheSameKeys() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty()
                .task(task("high").priority(5).maxWait(Duration.ofMinutes(5)))
                .task(task("low").priority(1).maxWait(Duration.ofMinutes(5)))
                .key(key("k", "high", "low").maxConcurrent(1).maxRpm(100L)).build())) {
            Lease held = f.lease("high");
            CompletableFuture<Admission> high = f.acquire("high", 1);
            held.settle(new Outcome.Answered(200, 1, 1, true, 1));
            Lease second = (Lease) high.join();
            // Now a high waiter exists again while the key is busy; a low arrival must not overtake it.
            CompletableFuture<Admission> high2 = f.acquire("high", 1);
            CompletableFuture<Admission> low = f.acquire("low", 1);
            second.settle(new Outcome.Answered(200, 1, 1, true, 1));
            assertThat(high2.join()).isInstanceOf(Lease.class);
            assertThat(low).isNotDone();
            ((Lease) high2.join()).settle(new Outcome.Answered(200, 1, 1, true, 1));
            assertThat(low.join()).isInstanceOf(Lease.class);
        }
    }

    private static CompletableFuture<Admission> track(CompletableFuture<Admission> f, String name, List<String> log) {
        f.thenAccept(a -> {
            if (a instanceof Lease) {
                log.add(name);
            }
        });
        return f;
    }
}
