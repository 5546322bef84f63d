package io.keymux.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.history.AttemptKind;
import io.keymux.core.history.HistorySnapshot;
import io.keymux.core.history.TrafficHistory;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The recording broker over the real engine: what each outcome counts, and that no lease leaks. */
class RecordingBrokerTest {
    private static final long WAIT_SECONDS = 10;

    @TempDir
    Path dir;

    /** The history's own clock, so a test can move to the next step; the broker runs on the system clock. */
    private final StepClock clock = new StepClock();
    private final TrafficHistory history = TrafficHistory.create(clock);
    private KeyBroker broker;

    @AfterEach
    void close() {
        if (broker != null) {
            broker.close();
        }
    }

    private KeyBroker start() throws Exception {
        KeymuxConfig config = TestConfigs.yaml(dir, """
                upstreams:
                  up: { base_url: "http://127.0.0.1:9", auth: bearer }
                default_upstream: up
                tasks:
                  - name: chat
                    max_wait: 30s
                api_keys:
                  - key_id: k1
                    api_key: sk-recording-test-1
                    task_types: [chat]
                    max_concurrent: 1
                    cost_per_input_token: 0.001
                    cost_per_output_token: 0.002
                """, Map.of());
        broker = new RecordingBroker(KeyBroker.create(config, TimeSource.system()), history);
        return broker;
    }

    private static KeyRequest chat() {
        return new KeyRequest("chat", "app", 10, Set.of());
    }

    @Test
    void eachOutcomeCountsOnceOnTheKeyWithItsTokensAndCost() throws Exception {
        KeyBroker b = start();
        settle(b, new Outcome.Answered(200, 5, 3, true, 1_000_000));
        settle(b, new Outcome.RateLimited(Duration.ofMillis(1)));
        // Granted once the 1 ms cooldown is over (the broker's own timer wakes the waiter).
        settle(b, new Outcome.ServerError(503));
        settle(b, new Outcome.Deferred(1));
        Lease twice = lease(b);
        twice.settle(new Outcome.Answered(200, 1, 1, true, 1));
        twice.settle(new Outcome.Answered(200, 1, 1, true, 1));

        HistorySnapshot.KeySeries k1 = history.snapshot(List.of("k1"), List.of()).keys().get("k1");
        // Deferred was never an attempt; a second settle of the same lease is ignored.
        assertThat(Arrays.stream(k1.requests()).sum()).isEqualTo(4);
        assertThat(Arrays.stream(k1.rateLimited()).sum()).isEqualTo(1);
        assertThat(Arrays.stream(k1.failures()).sum()).isEqualTo(1);
        assertThat(Arrays.stream(k1.tokens()).sum()).isEqualTo(10);
        assertThat(Arrays.stream(k1.costUsd()).sum()).isCloseTo(5 * 0.001 + 3 * 0.002 + 0.001 + 0.002,
                org.assertj.core.api.Assertions.within(1e-12));
        assertThat(Arrays.stream(history.snapshot(List.of(), List.of("chat")).tasks().get("chat").costUsd()).sum())
                .isCloseTo(0.014, org.assertj.core.api.Assertions.within(1e-12));
    }

    @Test
    void kindsFollowTheOutcome() {
        assertThat(RecordingBroker.kindOf(new Outcome.Answered(200, 0, 0, false, 0))).isEqualTo(AttemptKind.ANSWERED);
        assertThat(RecordingBroker.kindOf(new Outcome.Answered(404, 0, 0, false, 0))).isEqualTo(AttemptKind.ANSWERED);
        assertThat(RecordingBroker.kindOf(new Outcome.Answered(500, 0, 0, false, 0))).isEqualTo(AttemptKind.FAILED);
        assertThat(RecordingBroker.kindOf(new Outcome.RateLimited(null))).isEqualTo(AttemptKind.RATE_LIMITED);
        assertThat(RecordingBroker.kindOf(new Outcome.ServerError(502))).isEqualTo(AttemptKind.FAILED);
        assertThat(RecordingBroker.kindOf(new Outcome.ConnectFailure())).isEqualTo(AttemptKind.FAILED);
        assertThat(RecordingBroker.kindOf(new Outcome.Timeout())).isEqualTo(AttemptKind.FAILED);
        assertThat(RecordingBroker.kindOf(new Outcome.Unauthorized(401))).isEqualTo(AttemptKind.FAILED);
        assertThat(RecordingBroker.kindOf(new Outcome.Cancelled())).isEqualTo(AttemptKind.ANSWERED);
        assertThat(RecordingBroker.kindOf(new Outcome.Deferred(5))).isNull();
        assertThat(RecordingBroker.kindOf(new Outcome.Unused())).isNull();
        // Refusals that are not answers: /admin/history counts them as 429s or failures.
        assertThat(RecordingBroker.kindOf(new Outcome.QuotaExhausted(429))).isEqualTo(AttemptKind.RATE_LIMITED);
        assertThat(RecordingBroker.kindOf(new Outcome.QuotaExhausted(402))).isEqualTo(AttemptKind.FAILED);
        assertThat(RecordingBroker.kindOf(new Outcome.Overloaded(529, null))).isEqualTo(AttemptKind.FAILED);
    }

    @Test
    void aWaiterCountsInTheQueueAndACancelledOneGivesItsSlotBack() throws Exception {
        KeyBroker b = start();
        Lease holder = lease(b);
        CompletableFuture<Admission> waiting = b.acquire(chat());
        assertThat(waiting).isNotDone();
        assertThat(depthNow()).isEqualTo(1);

        // The client goes away while waiting: out of the queue, and the slot is not lost to it.
        waiting.cancel(false);
        holder.settle(new Outcome.Answered(200, 0, 0, false, 1));

        Lease next = lease(b);
        assertThat(next.key().keyId()).isEqualTo("k1");
        next.settle(new Outcome.Cancelled());
        // A step shows the most that waited in it; the next one starts from the depth left behind.
        assertThat(depthNow()).isEqualTo(1);
        clock.nextStep();
        assertThat(depthNow()).isZero();
    }

    @Test
    void aWaiterGrantedLaterGetsARecordedLease() throws Exception {
        KeyBroker b = start();
        Lease holder = lease(b);
        CompletableFuture<Admission> waiting = b.acquire(chat());
        holder.settle(new Outcome.Answered(200, 0, 0, false, 1));

        Lease granted = (Lease) waiting.get(WAIT_SECONDS, TimeUnit.SECONDS);
        granted.settle(new Outcome.Answered(200, 2, 2, true, 1));

        clock.nextStep();
        assertThat(depthNow()).isZero();
        long[] requests = history.snapshot(List.of("k1"), List.of()).keys().get("k1").requests();
        assertThat(Arrays.stream(requests).sum()).isEqualTo(2);
    }

    private static final class StepClock implements TimeSource {
        private volatile long millis = System.currentTimeMillis();

        void nextStep() {
            millis += TrafficHistory.STEP.toMillis();
        }

        @Override
        public long nanoTime() {
            return millis * 1_000_000;
        }

        @Override
        public long currentTimeMillis() {
            return millis;
        }
    }

    private int depthNow() {
        int[] depth = history.snapshot(List.of(), List.of("chat")).tasks().get("chat").queueDepth();
        return depth[depth.length - 1];
    }

    private static Lease lease(KeyBroker b) throws Exception {
        Admission admission = b.acquire(chat()).get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(admission).isInstanceOf(Lease.class);
        return (Lease) admission;
    }

    private static void settle(KeyBroker b, Outcome outcome) throws Exception {
        lease(b).settle(outcome);
    }
}
