package io.keymux.core.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ClientConfig;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClientGateTest {

    /** A settable clock. */
    private static final class Clock implements TimeSource {
        long nanos;
        long millis = Instant.parse("2026-11-22T22:00:00Z").toEpochMilli();

        @Override
        public long nanoTime() {
            return nanos;
        }

        @Override
        public long currentTimeMillis() {
            return millis;
        }

        void advance(Duration d) {
            nanos += d.toNanos();
            millis += d.toMillis();
        }
    }

    @Test
    void clientRateLimitRefusesWithRetryAfter() {
        Clock clock = new Clock();
        ClientGate gate = ClientGate.create(List.of(ClientConfig.builder("app").keySha256("ab").maxRpm(2L).build()), clock);
        assertThat(gate.admit("app")).isEqualTo(ClientDecision.ALLOWED);
        assertThat(gate.admit("app")).isEqualTo(ClientDecision.ALLOWED);
        ClientDecision d = gate.admit("app");
        assertThat(d).isInstanceOf(ClientDecision.Refused.class);
        ClientDecision.Refused r = (ClientDecision.Refused) d;
        assertThat(r.code()).isEqualTo("client_rate_limited");
        assertThat(r.retryAfter()).isEqualTo(Duration.ofSeconds(30));
        clock.advance(Duration.ofSeconds(30));
        assertThat(gate.admit("app")).isEqualTo(ClientDecision.ALLOWED);
        assertThat(gate.admit("someone-else")).isEqualTo(ClientDecision.ALLOWED);
    }

    @Test
    void clientBudgetRefusesUntilUtcMidnight() {
        Clock clock = new Clock();
        ClientGate gate = ClientGate.create(List.of(ClientConfig.builder("app").keySha256("ab").dailyBudgetUsd(2.0).build()), clock);
        gate.recordCost("app", 1.5);
        assertThat(gate.admit("app")).isEqualTo(ClientDecision.ALLOWED);
        gate.recordCost("app", 0.5);
        ClientDecision.Refused r = (ClientDecision.Refused) gate.admit("app");
        assertThat(r.code()).isEqualTo("budget_exceeded");
        assertThat(r.retryAfter()).isEqualTo(Duration.ofHours(2));
        assertThat(r.message()).contains("app");
        clock.advance(Duration.ofHours(2));
        assertThat(gate.spentToday("app")).isZero();
        assertThat(gate.admit("app")).isEqualTo(ClientDecision.ALLOWED);
    }
}
