package io.keymux.core.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Failed authentications per address: free at first, then answered after a doubling, capped delay. */
class AuthFailuresTest {
    private static final class Clock implements TimeSource {
        long nanos = 1_000;

        @Override
        public long nanoTime() {
            return nanos;
        }

        @Override
        public long currentTimeMillis() {
            return nanos / 1_000_000;
        }
    }

    private final Clock clock = new Clock();
    private final AuthFailures failures = new AuthFailures("client key", clock);

    @Test
    void theFirstFailuresOfAWindowAreAnsweredAtOnceThenEachLaterOneWaitsTwiceAsLongUpToTheCap() {
        for (int i = 1; i <= AuthFailures.FREE_FAILURES; i++) {
            assertThat(failures.failed("10.0.0.1")).as("failure " + i).isZero();
        }
        assertThat(failures.failed("10.0.0.1")).isEqualTo(Duration.ofMillis(100));
        assertThat(failures.failed("10.0.0.1")).isEqualTo(Duration.ofMillis(200));
        assertThat(failures.failed("10.0.0.1")).isEqualTo(Duration.ofMillis(400));
        for (int i = 0; i < 50; i++) {
            failures.failed("10.0.0.1");
        }
        assertThat(failures.failed("10.0.0.1")).isEqualTo(Duration.ofMillis(AuthFailures.MAX_DELAY_MILLIS));
    }

    @Test
    void addressesAreCountedApart() {
        for (int i = 0; i < 10; i++) {
            failures.failed("10.0.0.1");
        }
        assertThat(failures.failed("10.0.0.2")).isZero();
        assertThat(failures.failed("10.0.0.1")).isPositive();
    }

    @Test
    void aNewWindowStartsFreeAgain() {
        for (int i = 0; i < 10; i++) {
            failures.failed("10.0.0.1");
        }
        clock.nanos += TimeUnit.SECONDS.toNanos(AuthFailures.WINDOW_SECONDS);

        assertThat(failures.failed("10.0.0.1")).isZero();
    }

    @Test
    void aPeerWithoutAnAddressIsNeverDelayed() {
        for (int i = 0; i < 20; i++) {
            assertThat(failures.failed(null)).isZero();
        }
    }

    @Test
    void theTableOfAddressesStaysBounded() {
        for (int i = 0; i < AuthFailures.MAX_ADDRESSES + 500; i++) {
            failures.failed("10." + (i >> 16) + "." + ((i >> 8) & 255) + "." + (i & 255));
        }
        assertThat(failures.tracked()).isLessThanOrEqualTo(AuthFailures.MAX_ADDRESSES);
    }
}
