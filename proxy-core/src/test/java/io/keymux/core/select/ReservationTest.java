package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.core.ratelimit.ProviderLimits;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Token reservation up front and its settlement against real usage. */
class ReservationTest {

    private static BrokerFixture tpm1000() {
        return new BrokerFixture(TestConfigs.empty().task(task("t")).key(key("k", "t").maxTpm(1000L)).build());
    }

    @Test
    void reservesTheEstimateAndRefundsWhatWasNotUsed() {
        try (BrokerFixture f = tpm1000()) {
            Lease lease = f.lease("t", 600);
            assertThat(lease.reservedTokens()).isEqualTo(600);
            // 400 left: a second 600 does not fit.
            assertThat(f.rejection("t", 600).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            // Used 100 of 600: 500 come back, 900 left.
            lease.settle(new Outcome.Answered(200, 60, 40, true, 1));
            Lease next = f.lease("t", 900);
            assertThat(next.reservedTokens()).isEqualTo(900);
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
        }
    }

    @Test
    void chargesUsageBeyondTheReservationIntoDebt() {
        try (BrokerFixture f = tpm1000()) {
            Lease lease = f.lease("t", 100);
            // Used 1300 of 100 reserved: 1200 more charged, the bucket is 300 in debt.
            lease.settle(new Outcome.Answered(200, 1000, 300, true, 1));
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            // Refill is 1000/min: the debt of 300 plus 1 token takes 301 * 60 ms.
            f.time.advance(Duration.ofMillis(300 * 60));
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            f.time.advance(Duration.ofMillis(60));
            assertThat(f.lease("t", 1).reservedTokens()).isEqualTo(1);
        }
    }

    @Test
    void answerWithoutUsageKeepsTheReservation() {
        try (BrokerFixture f = tpm1000()) {
            f.lease("t", 700).settle(new Outcome.Answered(200, 0, 0, false, 1));
            assertThat(f.rejection("t", 301).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(f.lease("t", 300).reservedTokens()).isEqualTo(300);
        }
    }

    @Test
    void failedAttemptsRefundTheirTokensButNotTheirRequest() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxRpm(3L).maxTpm(1000L)).build())) {
            f.lease("t", 1000).settle(new Outcome.ServerError(500));
            f.lease("t", 1000).settle(new Outcome.Cancelled());
            f.lease("t", 1000).settle(new Outcome.Timeout());
            // Tokens all back, but the three request tokens are spent.
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            f.time.advance(Duration.ofSeconds(20));
            assertThat(f.lease("t", 1000).reservedTokens()).isEqualTo(1000);
        }
    }

    @Test
    void aRequestLargerThanTheBucketReservesTheWholeBucket() {
        try (BrokerFixture f = tpm1000()) {
            assertThat(f.lease("t", 5000).reservedTokens()).isEqualTo(1000);
        }
    }

    @Test
    void settleIsIdempotent() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxConcurrent(1).maxTpm(1000L)).build())) {
            Lease lease = f.lease("t", 500);
            lease.settle(new Outcome.Answered(200, 100, 100, true, 1));
            lease.settle(new Outcome.Answered(200, 100, 100, true, 1));
            lease.settle(new Outcome.Cancelled());
            KeyStatus s = f.status("k");
            assertThat(s.usage().inFlight()).isZero();
            assertThat(s.totalRequests()).isEqualTo(1);
            assertThat(s.promptTokens()).isEqualTo(100);
            // 500 - 200 refunded once: 800 available, not 1000 or 1100.
            assertThat(f.rejection("t", 801).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(f.lease("t", 800).reservedTokens()).isEqualTo(800);
        }
    }

    @Test
    void concurrencySlotIsHeldUntilSettled() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxConcurrent(2)).build())) {
            Lease a = f.lease("t");
            f.lease("t");
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(f.status("k").usage().inFlight()).isEqualTo(2);
            a.settle(new Outcome.Answered(200, 1, 1, true, 1));
            assertThat(f.lease("t").key().keyId()).isEqualTo("k");
        }
    }

    @Test
    void providerHeadersLowerTheLocalBuckets() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxRpm(100L).maxTpm(10_000L)).build())) {
            Lease lease = f.lease("t", 100);
            lease.observe(new ProviderLimits(1L, 2_000L, null, null));
            lease.settle(new Outcome.Answered(200, 50, 50, true, 1));
            // The provider said 1 request and 2 000 tokens left.
            assertThat(f.rejection("t", 2_001).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            f.lease("t", 2_000);
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
        }
    }

    @Test
    void providerHeadersNeverRaiseTheLocalBuckets() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxRpm(100L).maxTpm(10_000L)).build())) {
            Lease lease = f.lease("t", 9_000);
            lease.observe(new ProviderLimits(1_000L, 50_000L, null, null));
            assertThat(f.rejection("t", 1_001).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(f.lease("t", 1_000).reservedTokens()).isEqualTo(1_000);
        }
    }

    @Test
    void limitsBeyondWhatBucket4jCanRefillCountAsUnlimited() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxRpm(100_000_000_000L).maxTpm(Long.MAX_VALUE)).build())) {
            assertThat(f.lease("t", 1_000_000_000L).reservedTokens()).isEqualTo(1_000_000_000L);
        }
    }
}
