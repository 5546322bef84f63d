package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.timeout.ReadTimeoutException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * {@link AttemptSettlement} settles its lease exactly once, with the outcome of the first thing
 * reported, whatever races it: a cancel against a completion, a hang-up against a transport failure.
 */
class AttemptSettlementTest {
    private static final String USAGE_BODY =
            "{\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}";
    private static final FailoverPolicy.Verdict ANSWER = new FailoverPolicy.Verdict(null, false, "200");

    private final RecordingLease lease = new RecordingLease();
    private final RecordingAccounting accounting = new RecordingAccounting();
    private final FakeTime time = new FakeTime();

    /** The ways an attempt can end, as the upstream attempt reports them. */
    private enum Event {
        ANSWERED(AttemptSettlement::answered),
        HUNG_UP(AttemptSettlement::hungUp),
        CANCELLED(AttemptSettlement::cancelled),
        BROKE(s -> s.transportFailed(new IOException("reset"))),
        TIMED_OUT(s -> s.transportFailed(ReadTimeoutException.INSTANCE)),
        REFUSED(s -> s.refused(503, new FailoverPolicy.Verdict(new Outcome.ServerError(503), true, "503")));

        final Consumer<AttemptSettlement> report;

        Event(Consumer<AttemptSettlement> report) {
            this.report = report;
        }
    }

    @Test
    void aCommittedAnswerSettlesOnceWithWhateverCameFirstInEveryOrder() {
        List<Event> after = List.of(Event.ANSWERED, Event.HUNG_UP, Event.CANCELLED, Event.BROKE, Event.TIMED_OUT);
        for (List<Event> order : permutations(after)) {
            RecordingLease leaseOf = new RecordingLease();
            RecordingAccounting accountingOf = new RecordingAccounting();
            AttemptSettlement settlement = new AttemptSettlement(leaseOf, accountingOf, time, time.nanos,
                    new UsageEstimate(100, null));
            settlement.committed(200, ANSWER, UsageTap.of("application/json", null, false));
            relay(settlement, USAGE_BODY);
            time.nanos += 7;

            order.forEach(event -> event.report.accept(settlement));

            assertThat(leaseOf.outcomes).as("settled once for %s", order).hasSize(1);
            assertThat(settlement.settled()).isTrue();
            Outcome expected = switch (order.get(0)) {
                case ANSWERED, HUNG_UP -> new Outcome.Answered(200, 10, 5, true, 7);
                case CANCELLED -> new Outcome.Cancelled();
                case BROKE -> new Outcome.ConnectFailure();
                case TIMED_OUT -> new Outcome.Timeout();
                case REFUSED -> throw new AssertionError("not reported here");
            };
            assertThat(leaseOf.outcomes.get(0)).as("first of %s", order).isEqualTo(expected);
            // Usage and latency are counted with the settle, so at most once too.
            assertThat(accountingOf.usage).hasSizeLessThanOrEqualTo(1);
            assertThat(accountingOf.latencies).hasSizeLessThanOrEqualTo(1);
            settlement.closeTap();
        }
    }

    @Test
    void beforeTheCommitOnlyTheFirstReportCountsAndAHangUpIsARefund() {
        for (List<Event> order : permutations(List.of(Event.REFUSED, Event.HUNG_UP, Event.CANCELLED, Event.BROKE))) {
            RecordingLease leaseOf = new RecordingLease();
            AttemptSettlement settlement = new AttemptSettlement(leaseOf, accounting, time, time.nanos, null);

            order.forEach(event -> event.report.accept(settlement));

            assertThat(leaseOf.outcomes).as("settled once for %s", order).hasSize(1);
            Outcome expected = switch (order.get(0)) {
                case REFUSED -> new Outcome.ServerError(503);
                case HUNG_UP, CANCELLED -> new Outcome.Cancelled();
                case BROKE -> new Outcome.ConnectFailure();
                default -> throw new AssertionError("not reported here");
            };
            assertThat(leaseOf.outcomes.get(0)).as("first of %s", order).isEqualTo(expected);
        }
        assertThat(accounting.usage).isEmpty();
    }

    @Test
    void aWholeAnswerIsChargedItsReportedUsageAndItsLatency() {
        AttemptSettlement settlement = new AttemptSettlement(lease, accounting, time, 1_000, null);
        settlement.committed(200, ANSWER, UsageTap.of("application/json", null, false));
        time.nanos = 1_500;
        relay(settlement, USAGE_BODY);
        settlement.relayEnd().release();

        settlement.answered();

        assertThat(lease.outcomes).containsExactly(new Outcome.Answered(200, 10, 5, true, 500));
        assertThat(accounting.usage).containsExactly(List.of(10L, 0L, 5L));
        assertThat(accounting.latencies).containsExactly(500L);
        settlement.closeTap();
    }

    @Test
    void aClientThatHangsUpBeforeTheUsageIsChargedTheEstimateOfWhatWasRelayed() {
        AttemptSettlement settlement = new AttemptSettlement(lease, accounting, time, 0,
                new UsageEstimate(40, 1_000L));
        settlement.committed(200, ANSWER, UsageTap.of("text/event-stream", null, false));
        String event = "data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n";
        long relayed = event.getBytes(StandardCharsets.UTF_8).length;
        relay(settlement, event);

        settlement.hungUp();
        settlement.answered(); // the rest arriving after the hang-up changes nothing

        assertThat(lease.outcomes).hasSize(1);
        Outcome.Answered charged = (Outcome.Answered) lease.outcomes.get(0);
        assertThat(charged.usageKnown()).isTrue();
        assertThat(charged.promptTokens()).isEqualTo(40);
        assertThat(charged.completionTokens()).isEqualTo((relayed + 3) / 4);
        assertThat(accounting.usage).containsExactly(List.of(40L, 0L, (relayed + 3) / 4));
        // A hang-up is not an answer the upstream finished: no latency sample.
        assertThat(accounting.latencies).isEmpty();
        settlement.closeTap();
    }

    @Test
    void aPassedThroughRefusalIsTheKeysOutcomeWhenWholeAndARefundWhenTheClientLeft() {
        Outcome limited = new Outcome.RateLimited(null);
        FailoverPolicy.Verdict passed = new FailoverPolicy.Verdict(limited, false, "429");

        AttemptSettlement whole = new AttemptSettlement(lease, accounting, time, 0, new UsageEstimate(40, null));
        whole.committed(429, passed, UsageTap.of("application/json", null, false));
        whole.answered();
        whole.closeTap();

        RecordingLease left = new RecordingLease();
        AttemptSettlement cut = new AttemptSettlement(left, accounting, time, 0, new UsageEstimate(40, null));
        cut.committed(429, passed, UsageTap.of("application/json", null, false));
        cut.hungUp();
        cut.closeTap();

        assertThat(lease.outcomes).containsExactly(limited);
        assertThat(left.outcomes).containsExactly(new Outcome.Cancelled());
        assertThat(accounting.usage).isEmpty();
    }

    @Test
    void aRefusalWithoutAnOutcomeOfItsOwnSettlesAsAnAnswerWithoutUsage() {
        AttemptSettlement settlement = new AttemptSettlement(lease, accounting, time, 0, new UsageEstimate(40, null));
        time.nanos = 300;

        settlement.refused(400, new FailoverPolicy.Verdict(null, true, "400"));

        assertThat(lease.outcomes).containsExactly(new Outcome.Answered(400, 0, 0, false, 300));
        assertThat(accounting.latencies).containsExactly(300L);
        assertThat(settlement.committed()).isFalse();
    }

    private static void relay(AttemptSettlement settlement, String text) {
        ByteBuf out = settlement.relay(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        out.release();
    }

    private static <T> List<List<T>> permutations(List<T> items) {
        if (items.isEmpty()) {
            return List.of(List.of());
        }
        List<List<T>> all = new ArrayList<>();
        for (T first : items) {
            List<T> rest = new ArrayList<>(items);
            rest.remove(first);
            for (List<T> tail : permutations(rest)) {
                List<T> order = new ArrayList<>();
                order.add(first);
                order.addAll(tail);
                all.add(order);
            }
        }
        return all;
    }

    /** A lease that records every settle call, where a real one would ignore all but the first. */
    private static final class RecordingLease implements Lease {
        final List<Outcome> outcomes = new ArrayList<>();

        @Override
        public ApiKeyConfig key() {
            throw new UnsupportedOperationException("the settlement never needs the key");
        }

        @Override
        public long reservedTokens() {
            return 0;
        }

        @Override
        public long queuedNanos() {
            return 0;
        }

        @Override
        public void settle(Outcome outcome) {
            outcomes.add(outcome);
        }
    }

    private static final class RecordingAccounting implements AttemptSettlement.Accounting {
        final List<List<Long>> usage = new ArrayList<>();
        final List<Long> latencies = new ArrayList<>();

        @Override
        public void usage(long promptTokens, long cachedPromptTokens, long completionTokens) {
            usage.add(List.of(promptTokens, cachedPromptTokens, completionTokens));
        }

        @Override
        public void latency(long nanos) {
            latencies.add(nanos);
        }
    }

    private static final class FakeTime implements TimeSource {
        long nanos;

        @Override
        public long nanoTime() {
            return nanos;
        }

        @Override
        public long currentTimeMillis() {
            return 0;
        }
    }
}
