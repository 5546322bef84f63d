package io.keymux.core.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LatencyBucketsTest {

    @Test
    void everyBucketsMiddleIsWithinTenPercentOfTheValuesItHolds() {
        for (long micros = 100; micros < 600_000_000L; micros = micros * 11 / 10 + 1) {
            double ms = micros / 1_000.0;
            assertThat(LatencyBuckets.millisOf(LatencyBuckets.of(micros * 1_000))).as("%d µs", micros)
                    .isCloseTo(ms, within(ms * 0.1));
        }
    }

    @Test
    void bucketsGrowWithLatencyAndClampAtBothEnds() {
        assertThat(LatencyBuckets.of(-5)).isZero();
        assertThat(LatencyBuckets.of(50_000)).isZero();
        assertThat(LatencyBuckets.of(100_000)).isEqualTo(1);
        assertThat(LatencyBuckets.of(2_000_000)).isGreaterThan(LatencyBuckets.of(1_000_000));
        assertThat(LatencyBuckets.of(Long.MAX_VALUE)).isEqualTo(LatencyBuckets.COUNT - 1);
    }

    @Test
    void percentilesUseNearestRank() {
        int[] counts = new int[LatencyBuckets.COUNT];
        counts[LatencyBuckets.of(10_000_000)] = 98;
        counts[LatencyBuckets.of(1_000_000_000)] = 2;

        assertThat(LatencyBuckets.percentileMillis(counts, 0.5)).isCloseTo(10, within(1.0));
        assertThat(LatencyBuckets.percentileMillis(counts, 0.98)).isCloseTo(10, within(1.0));
        assertThat(LatencyBuckets.percentileMillis(counts, 0.99)).isCloseTo(1000, within(100.0));
        assertThat(LatencyBuckets.percentileMillis(new int[LatencyBuckets.COUNT], 0.99)).isZero();
    }
}
