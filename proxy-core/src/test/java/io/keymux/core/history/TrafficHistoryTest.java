package io.keymux.core.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.keymux.core.time.TimeSource;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrafficHistoryTest {
    /** 2026-12-02T04:00:00Z, a step boundary. */
    private static final long T0 = 1_796_184_000_000L;
    private static final int LAST = TrafficHistory.STEPS - 1;

    private final FakeClock clock = new FakeClock(T0);
    private final TrafficHistory history = TrafficHistory.create(clock);

    @Test
    void attemptsLandInTheCurrentStepOfTheirKeyOldestFirst() {
        history.attempt("k1", "chat", AttemptKind.ANSWERED, 100, 0.01);
        history.attempt("k1", "chat", AttemptKind.RATE_LIMITED, 0, 0);
        clock.advanceSeconds(10);
        history.attempt("k1", "chat", AttemptKind.FAILED, 0, 0);
        history.attempt("k2", "chat", AttemptKind.ANSWERED, 30, 0.003);

        HistorySnapshot snap = history.snapshot(List.of("k1", "k2"), List.of("chat"));

        assertThat(snap.stepSeconds()).isEqualTo(10);
        // The window ends with the step in progress (T0 + 10 s) and starts 89 steps before it.
        assertThat(snap.startMillis()).isEqualTo(T0 + 10_000 - 89 * 10_000L);
        HistorySnapshot.KeySeries k1 = snap.keys().get("k1");
        assertThat(k1.requests()).hasSize(90);
        assertThat(k1.requests()[LAST - 1]).isEqualTo(2);
        assertThat(k1.rateLimited()[LAST - 1]).isEqualTo(1);
        assertThat(k1.tokens()[LAST - 1]).isEqualTo(100);
        assertThat(k1.costUsd()[LAST - 1]).isEqualTo(0.01);
        assertThat(k1.requests()[LAST]).isEqualTo(1);
        assertThat(k1.failures()[LAST]).isEqualTo(1);
        assertThat(Arrays.stream(k1.requests()).sum()).isEqualTo(3);
        assertThat(snap.keys().get("k2").tokens()[LAST]).isEqualTo(30);
        // Cost counts on the task too, per step.
        assertThat(snap.tasks().get("chat").costUsd()[LAST - 1]).isEqualTo(0.01);
        assertThat(snap.tasks().get("chat").costUsd()[LAST]).isEqualTo(0.003);
    }

    @Test
    void keysAndTasksComeInTheOrderAskedAndUnknownOnesAreZeros() {
        history.attempt("k1", "chat", AttemptKind.ANSWERED, 1, 0);

        HistorySnapshot snap = history.snapshot(List.of("zz", "k1"), List.of("code"));

        assertThat(snap.keys().keySet()).containsExactly("zz", "k1");
        assertThat(snap.keys().get("zz").requests()).containsOnly(0L);
        assertThat(snap.tasks().get("code").requests()).hasSize(90).containsOnly(0L);
    }

    @Test
    void aStepOlderThanFifteenMinutesLeavesTheWindowAndItsSlotIsReused() {
        history.attempt("k1", "chat", AttemptKind.ANSWERED, 5, 0);
        clock.advanceSeconds(89 * 10);
        assertThat(history.snapshot(List.of("k1"), List.of()).keys().get("k1").requests()[0]).isEqualTo(1);

        clock.advanceSeconds(10);
        // The first step is out of the window; nothing else was counted.
        assertThat(history.snapshot(List.of("k1"), List.of()).keys().get("k1").requests()).containsOnly(0L);

        // 90 steps later the same slot serves a new step and starts from zero.
        history.attempt("k1", "chat", AttemptKind.ANSWERED, 7, 0);
        HistorySnapshot.KeySeries k1 = history.snapshot(List.of("k1"), List.of()).keys().get("k1");
        assertThat(k1.requests()[LAST]).isEqualTo(1);
        assertThat(k1.tokens()[LAST]).isEqualTo(7);
        assertThat(Arrays.stream(k1.tokens()).sum()).isEqualTo(7);
    }

    @Test
    void anHourOfTrafficKeepsExactlyTheLastNinetySteps() {
        for (int s = 0; s < 360; s++) {
            for (int i = 0; i <= s % 5; i++) {
                history.attempt("k1", "chat", AttemptKind.ANSWERED, 1, 0);
            }
            clock.advanceSeconds(10);
        }
        clock.advanceSeconds(-10);
        long[] requests = history.snapshot(List.of("k1"), List.of()).keys().get("k1").requests();
        for (int i = 0; i < 90; i++) {
            int s = 360 - 90 + i;
            assertThat(requests[i]).as("step %d", s).isEqualTo(s % 5 + 1);
        }
    }

    @Test
    void latencyPercentilesComeFromTheStepsOwnHistogram() {
        for (int i = 1; i <= 100; i++) {
            history.clientRequest("chat", 200, i * 1_000_000L); // 1 ms .. 100 ms
        }
        clock.advanceSeconds(10);
        history.clientRequest("chat", 200, 2_000_000_000L);

        HistorySnapshot.TaskSeries chat = history.snapshot(List.of(), List.of("chat")).tasks().get("chat");

        assertThat(chat.requests()[LAST - 1]).isEqualTo(100);
        assertThat(chat.latencyP50Ms()[LAST - 1]).isCloseTo(50, within(50 * 0.1));
        assertThat(chat.latencyP99Ms()[LAST - 1]).isCloseTo(99, within(99 * 0.1));
        assertThat(chat.latencyP50Ms()[LAST]).isCloseTo(2000, within(2000 * 0.1));
        assertThat(chat.latencyP99Ms()[LAST]).isCloseTo(2000, within(2000 * 0.1));
        // A step without requests shows 0, not a stale percentile.
        assertThat(chat.latencyP50Ms()[LAST - 2]).isZero();
    }

    @Test
    void clientTotalsCountEachRequestOnceAndSuccessesBelow400() {
        history.clientRequest("chat", 200, 1);
        history.clientRequest("chat", 302, 1);
        history.clientRequest("chat", 429, 1);
        history.clientRequest("chat", 502, 1);

        assertThat(history.clientRequests()).isEqualTo(4);
        assertThat(history.clientSuccesses()).isEqualTo(2);
    }

    @Test
    void queueDepthIsTheMostWaitingInAStepAndCarriesThroughQuietSteps() {
        history.queueEntered("chat");
        history.queueEntered("chat");
        history.queueEntered("chat");
        history.queueLeft("chat");
        clock.advanceSeconds(30); // two quiet steps, then this one
        history.queueLeft("chat");
        clock.advanceSeconds(20); // one quiet step, then the current one, also quiet

        int[] depth = history.snapshot(List.of(), List.of("chat")).tasks().get("chat").queueDepth();

        assertThat(Arrays.copyOfRange(depth, LAST - 5, LAST + 1)).containsExactly(3, 2, 2, 2, 1, 1);
        // Before the first event in the window, the queue was empty.
        assertThat(depth[0]).isZero();
    }

    @Test
    void aQueueThatNeverChangedInTheWindowShowsItsCurrentDepthEverywhere() {
        history.queueEntered("chat");
        history.queueEntered("chat");
        clock.advanceSeconds(20 * 60);

        int[] depth = history.snapshot(List.of(), List.of("chat")).tasks().get("chat").queueDepth();

        assertThat(depth).containsOnly(2);
    }

    @Test
    void theQueueNeverGoesBelowZero() {
        history.queueLeft("chat");
        history.queueEntered("chat");

        assertThat(history.snapshot(List.of(), List.of("chat")).tasks().get("chat").queueDepth()[LAST]).isEqualTo(1);
    }

    @Test
    void aClockThatGoesBackDropsWritesInsteadOfClearingNewerSteps() {
        clock.advanceSeconds(100 * 10);
        history.attempt("k1", "chat", AttemptKind.ANSWERED, 1, 0);
        clock.advanceSeconds(-90 * 10); // same slot, an older step

        history.attempt("k1", "chat", AttemptKind.ANSWERED, 1, 0);

        clock.advanceSeconds(90 * 10);
        assertThat(history.snapshot(List.of("k1"), List.of()).keys().get("k1").requests()[LAST]).isEqualTo(1);
    }

    @Test
    void memoryIsFixedPerRow() {
        // 10 000 steps of traffic (more than a day) on one key: the snapshot is still 90 values
        // and the key's sum is what the last 90 steps saw.
        for (int s = 0; s < 10_000; s++) {
            history.attempt("k1", "chat", AttemptKind.ANSWERED, 1, 0);
            clock.advanceSeconds(10);
        }
        long[] requests = history.snapshot(List.of("k1"), List.of()).keys().get("k1").requests();
        assertThat(requests).hasSize(90);
        assertThat(Arrays.stream(requests).sum()).isEqualTo(89);
    }

    private static final class FakeClock implements TimeSource {
        private long millis;

        FakeClock(long millis) {
            this.millis = millis;
        }

        void advanceSeconds(long seconds) {
            millis += seconds * 1_000;
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
}
