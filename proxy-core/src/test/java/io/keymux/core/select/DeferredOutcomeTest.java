package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.HealthConfig;
import io.keymux.config.testing.TestConfigs;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** {@link Outcome.Deferred}: a lease a shared (Redis) limit refused is returned whole, and the key waits locally. */
class DeferredOutcomeTest {
    private static final long THREE_SECONDS = Duration.ofSeconds(3).toNanos();

    @Test
    void deferralRefundsTheRequestAndTheTokensAndIsNotAnAttempt() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ZERO))
                .key(key("a", "t").maxRpm(1L).maxTpm(100L)).build())) {
            Lease lease = f.lease("t", 100);
            lease.settle(new Outcome.Deferred(THREE_SECONDS));
            f.time.advance(Duration.ofSeconds(3));
            // rpm 1 and tpm 100 have not refilled in 3 s: only the refund makes room for a second lease.
            Lease again = f.lease("t", 100);
            assertThat(again.key().keyId()).isEqualTo("a");
            KeyStatus status = f.status("a");
            assertThat(status.totalRequests()).isZero();
            assertThat(status.usage().rpm()).isEqualTo(1);
            assertThat(status.usage().inFlight()).isEqualTo(1);
            assertThat(f.broker.metrics().taskDistribution().get("t")).containsEntry("a", 1L);
        }
    }

    @Test
    void aDeferredKeyIsSkippedUntilRetryAfterAndShowsActive() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t")).build())) {
            Lease first = f.lease("t");
            assertThat(first.key().keyId()).isEqualTo("a");
            first.settle(new Outcome.Deferred(THREE_SECONDS));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.status("a").cooldownUntilMillis()).isNull();
            assertThat(f.picks("t", 4)).containsOnly("b");
            f.time.advance(Duration.ofSeconds(3));
            assertThat(f.picks("t", 4)).contains("a", "b");
        }
    }

    @Test
    void deferralsLeaveHealthAlone() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty()
                .task(task("t").health(HealthConfig.builder().failureThreshold(1)
                        .circuitCooldown(Duration.ofSeconds(30)).rateLimitCooldown(Duration.ofSeconds(60)).build()))
                .key(key("a", "t")).build())) {
            for (int i = 0; i < 5; i++) {
                f.lease("t").settle(new Outcome.Deferred(1));
                f.time.advanceNanos(1);
            }
            // A failure threshold of 1 would have opened the circuit on any counted failure.
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.status("a").totalRequests()).isZero();
            assertThat(f.lease("t").key().keyId()).isEqualTo("a");
        }
    }

    @Test
    void aWaiterIsServedWhenTheDeferralEnds() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(20)))
                .key(key("a", "t")).build())) {
            f.lease("t").settle(new Outcome.Deferred(THREE_SECONDS));
            CompletableFuture<Admission> waiter = f.acquire("t", 1);
            f.timer.advance(Duration.ofMillis(2_999));
            assertThat(waiter).isNotDone();
            f.timer.advance(Duration.ofMillis(1));
            assertThat(waiter).isDone();
            assertThat(waiter.join()).isInstanceOf(Lease.class);
        }
    }

    @Test
    void aLaterShorterDeferralNeverShortensTheWaitAndTheRejectionNamesIt() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ZERO))
                .key(key("a", "t").maxConcurrent(2)).build())) {
            Lease one = f.lease("t");
            Lease two = f.lease("t");
            one.settle(new Outcome.Deferred(THREE_SECONDS));
            two.settle(new Outcome.Deferred(1_000_000));
            f.time.advance(Duration.ofSeconds(2));
            Rejection rejection = f.rejection("t", 1);
            assertThat(rejection.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(rejection.retryAfter()).isEqualTo(Duration.ofSeconds(1));
            assertThat(rejection.message()).contains("limits shared with other replicas (1 key)");
        }
    }
}
