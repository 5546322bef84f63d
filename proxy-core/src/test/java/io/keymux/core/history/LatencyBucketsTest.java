package io.keymux.core.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LatencyBucketsTest {

    @Test
    void everyBucketsMiddleIsWithinSevenPercentOfTheValuesItHolds() {
        for (long micros = 64; micros < 1_000_000_000L; micros = micros * 21 / 20 + 1) {
            double ms = micros / 1_000.0;
            assertThat(LatencyBuckets.millisOf(LatencyBuckets.of(micros * 1_000))).as("%d µs", micros)
                    .isCloseTo(ms, within(ms * 0.0625 + 1e-9));
        }
    }

    @Test
    void bucketsAreContiguousAndOrdered() {
        int previous = 0;
        for (long micros = 1; micros < 3_000_000_000L; micros = micros * 101 / 100 + 1) {
            int bucket = LatencyBuckets.of(micros * 1_000);
            assertThat(bucket).isBetween(previous, Math.min(previous + 1, LatencyBuckets.COUNT - 1) + 1);
            previous = bucket;
        }
        assertThat(previous).isEqualTo(LatencyBuckets.COUNT - 1);
    }

    @Test
    void bucketsGrowWithLatencyAndClampAtBothEnds() {
        assertThat(LatencyBuckets.of(-5)).isZero();
        assertThat(LatencyBuckets.of(50_000)).isZero();
        assertThat(LatencyBuckets.of(64_000)).isEqualTo(1);
        assertThat(LatencyBuckets.of(72_000)).isEqualTo(2);
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
