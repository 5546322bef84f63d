package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.testing.TestConfigs;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Cooldowns after 429, circuits after failures, keys disabled after 401/403, daily budgets. */
class KeyHealthTest {
    /** A circuit opens after 3 failures for 30 s; a 429 without a reset time cools a key for 60 s. */
    private static final HealthConfig HEALTH = HealthConfig.builder().failureThreshold(3)
            .circuitCooldown(Duration.ofSeconds(30)).rateLimitCooldown(Duration.ofSeconds(60)).build();

    private static BrokerFixture twoKeys() {
        return new BrokerFixture(TestConfigs.empty()
                .task(task("t").health(HEALTH))
                .key(key("a", "t")).key(key("b", "t")).build());
    }

    private static BrokerFixture oneKey() {
        return new BrokerFixture(TestConfigs.empty()
                .task(task("t").health(HEALTH))
                .key(key("a", "t")).build());
    }

    @Test
    void rateLimitedKeyCoolsDownAndAnotherTakesItsTraffic() {
        try (BrokerFixture f = twoKeys()) {
            f.lease("t").settle(new Outcome.RateLimited(Duration.ofSeconds(30)));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.COOLING_DOWN);
            assertThat(f.status("a").cooldownUntilMillis())
                    .isEqualTo(f.time.currentTimeMillis() + 30_000);
            assertThat(f.picks("t", 4)).containsOnly("b");
            f.time.advance(Duration.ofSeconds(30));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.picks("t", 2)).containsExactlyInAnyOrder("a", "b");
        }
    }

    @Test
    void aNewRateLimitNeverShortensACooldownAndNullUsesTheDefault() {
        try (BrokerFixture f = twoKeys()) {
            Lease first = f.lease("t");
            Lease second = f.lease("t");
            Lease third = f.lease("t");
            assertThat(List.of(first.key().keyId(), second.key().keyId(), third.key().keyId()))
                    .containsExactly("a", "b", "a");
            long start = f.time.currentTimeMillis();
            first.settle(new Outcome.RateLimited(Duration.ofSeconds(40)));
            third.settle(new Outcome.RateLimited(Duration.ofSeconds(5)));
            assertThat(f.status("a").cooldownUntilMillis()).isEqualTo(start + 40_000);
            second.settle(new Outcome.RateLimited(null));
            assertThat(f.status("b").cooldownUntilMillis()).isEqualTo(start + 60_000);
        }
    }

    @Test
    void allKeysCoolingQueuesUntilTheFirstCooldownEnds() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(20)))
                .key(key("a", "t")).build())) {
            f.lease("t").settle(new Outcome.RateLimited(Duration.ofSeconds(10)));
            var waiter = f.acquire("t", 1);
            f.timer.advance(Duration.ofMillis(9_999));
            assertThat(waiter).isNotDone();
            f.timer.advance(Duration.ofMillis(1));
            assertThat(waiter.join()).isInstanceOf(Lease.class);
        }
    }

    @Test
    void cooldownRejectionNamesTheCause() {
        try (BrokerFixture f = oneKey()) {
            f.lease("t").settle(new Outcome.RateLimited(Duration.ofMillis(2_500)));
            Rejection r = f.rejection("t", 1);
            assertThat(r.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(r.retryAfter()).isEqualTo(Duration.ofSeconds(3));
            assertThat(r.message()).contains("cooldowns after upstream 429");
        }
    }

    @Test
    void circuitOpensAtTheThresholdThenOneProbeDecides() {
        try (BrokerFixture f = oneKey()) {
            f.lease("t").settle(new Outcome.ServerError(502));
            f.lease("t").settle(new Outcome.ConnectFailure());
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            f.lease("t").settle(new Outcome.Timeout());
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.CIRCUIT_OPEN);
            assertThat(f.status("a").cooldownUntilMillis()).isEqualTo(f.time.currentTimeMillis() + 30_000);
            assertThat(f.rejection("t", 1).message()).contains("open circuits");

            f.time.advance(Duration.ofSeconds(30));
            Lease probe = f.lease("t");
            // Half-open: exactly one probe at a time.
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            probe.settle(new Outcome.ServerError(500));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.CIRCUIT_OPEN);
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);

            f.time.advance(Duration.ofSeconds(30));
            f.lease("t").settle(new Outcome.Answered(200, 1, 1, true, 1));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            // Closed again: a single failure no longer opens it.
            f.lease("t").settle(new Outcome.ServerError(500));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
        }
    }

    @Test
    void answeredResetsTheFailureCount() {
        try (BrokerFixture f = oneKey()) {
            f.lease("t").settle(new Outcome.ServerError(500));
            f.lease("t").settle(new Outcome.ServerError(500));
            f.lease("t").settle(new Outcome.Answered(200, 1, 1, true, 1));
            f.lease("t").settle(new Outcome.ServerError(500));
            f.lease("t").settle(new Outcome.ServerError(500));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
        }
    }

    @Test
    void aRecoveredKeyRampsBackInsteadOfTakingFullShareAtOnce() {
        try (BrokerFixture f = twoKeys()) {
            for (int i = 0; i < 3; i++) {
                Lease l = f.lease("t", 1, "b");
                l.settle(new Outcome.ServerError(500));
            }
            f.time.advance(Duration.ofSeconds(30));
            Lease probe = f.lease("t", 1, "b");
            probe.settle(new Outcome.Answered(200, 1, 1, true, 1));
            // 1 s into the 10 s ramp: "a" gets about a tenth of its round-robin turns.
            f.time.advance(Duration.ofSeconds(1));
            List<String> early = f.picks("t", 20);
            assertThat(early.stream().filter("a"::equals).count()).isBetween(1L, 2L);
            // After the ramp: plain round robin again.
            f.time.advance(Duration.ofSeconds(10));
            List<String> later = f.picks("t", 20);
            assertThat(later.stream().filter("a"::equals).count()).isEqualTo(10L);
        }
    }

    @Test
    void unauthorizedDisablesTheKeyUntilTheConfigChanges() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty()
                .task(task("t").health(HEALTH.toBuilder().disabledProbe(null).build()))
                .key(key("a", "t")).key(key("b", "t")).build())) {
            f.lease("t").settle(new Outcome.Unauthorized(401));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.DISABLED);
            assertThat(f.picks("t", 3)).containsOnly("b");
            f.lease("t").settle(new Outcome.Unauthorized(403));
            Rejection r = f.rejection("t", 1);
            assertThat(r.reason()).isEqualTo(Rejection.Reason.ALL_DISABLED);
            assertThat(r.message()).doesNotContain("sk-test-secret");
            f.time.advance(Duration.ofDays(2));
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.ALL_DISABLED);

            // New limits do not cure a refused key: it stays disabled.
            f.broker.reconfigure(TestConfigs.empty().task(task("t"))
                    .key(key("a", "t").maxRpm(500L)).key(key("b", "t").maxRpm(500L)).build());
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.DISABLED);
            assertThat(f.status("b").state()).isEqualTo(KeyStatus.State.DISABLED);

            // Same key_id, rotated secret: enabled again; an unchanged key stays disabled.
            f.broker.reconfigure(TestConfigs.empty().task(task("t"))
                    .key(key("a", "t").apiKey(Secret.of("sk-rotated"))).key(key("b", "t")).build());
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.status("b").state()).isEqualTo(KeyStatus.State.DISABLED);
            assertThat(f.lease("t").key().keyId()).isEqualTo("a");
        }
    }

    @Test
    void budgetExhaustedUntilTheNextUtcDay() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t").costPerInputToken(0.001).costPerOutputToken(0.002).dailyBudgetUsd(1.0))
                .key(key("b", "t")).build())) {
            assertThat(f.time.currentTimeMillis()).isEqualTo(Instant.parse("2026-11-22T10:00:00Z").toEpochMilli());
            // 400 * 0.001 + 300 * 0.002 = 1.0 USD: the budget is spent.
            Lease lease = f.lease("t");
            assertThat(lease.key().keyId()).isEqualTo("a");
            lease.settle(new Outcome.Answered(200, 400, 300, true, 1));
            KeyStatus a = f.status("a");
            assertThat(a.state()).isEqualTo(KeyStatus.State.BUDGET_EXHAUSTED);
            assertThat(a.spendToday()).isEqualTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
            assertThat(f.picks("t", 3)).containsOnly("b");

            f.time.advance(Duration.ofHours(14));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.status("a").spendToday()).isZero();
            assertThat(f.picks("t", 2)).contains("a");
        }
    }

    @Test
    void budgetRejectionWaitsUntilMidnight() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t").costPerInputToken(0.01).costPerOutputToken(0.01).dailyBudgetUsd(0.5)).build())) {
            f.lease("t").settle(new Outcome.Answered(200, 50, 0, true, 1));
            Rejection r = f.rejection("t", 1);
            assertThat(r.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(r.retryAfter()).isEqualTo(Duration.ofHours(14));
            assertThat(r.message()).contains("daily budgets spent");
        }
    }
}
