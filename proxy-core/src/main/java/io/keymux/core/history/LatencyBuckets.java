package io.keymux.core.history;

/**
 * A small log-scale histogram layout for one step's latencies: bucket 0 holds everything under
 * {@value #FLOOR_MICROS} µs, then each bucket is {@code 2^(1/4)} (about 19 %) wider than the last,
 * up to about 10 minutes; the last bucket takes everything longer. A percentile is read as the
 * geometric middle of its bucket, so it is within about 9 % of the true value.
 *
 * <pre>{@code
 * int[] counts = new int[LatencyBuckets.COUNT];
 * counts[LatencyBuckets.of(12_000_000)]++;          // 12 ms
 * double p99 = LatencyBuckets.percentileMillis(counts, 0.99);
 * }</pre>
 */
public final class LatencyBuckets {
    /** Latencies below this many microseconds share bucket 0. */
    public static final long FLOOR_MICROS = 100;
    /** Buckets per doubling. */
    private static final int PER_DOUBLING = 4;
    /** How many buckets a step keeps: 100 µs × 2^(93/4) is about 16 minutes. */
    public static final int COUNT = 94;

    private LatencyBuckets() {}

    /** The bucket of a latency in nanoseconds (negative counts as 0). */
    public static int of(long nanos) {
        long micros = nanos / 1_000;
        if (micros < FLOOR_MICROS) {
            return 0;
        }
        int index = 1 + (int) Math.floor(PER_DOUBLING * log2((double) micros / FLOOR_MICROS));
        return Math.min(COUNT - 1, index);
    }

    /** The value a bucket stands for, in milliseconds: the geometric middle of its bounds. */
    public static double millisOf(int bucket) {
        if (bucket <= 0) {
            return FLOOR_MICROS / 2 / 1_000.0;
        }
        double lower = FLOOR_MICROS * Math.pow(2, (bucket - 1) / (double) PER_DOUBLING);
        return lower * Math.pow(2, 0.5 / PER_DOUBLING) / 1_000.0;
    }

    /**
     * The {@code quantile} (0 to 1) of the latencies counted in {@code counts}, in milliseconds; 0
     * when nothing was counted. The nearest-rank definition: the smallest bucket holding at least
     * {@code ceil(quantile × n)} of the {@code n} values.
     */
    public static double percentileMillis(int[] counts, double quantile) {
        long total = 0;
        for (int c : counts) {
            total += c;
        }
        if (total == 0) {
            return 0;
        }
        long rank = Math.max(1, (long) Math.ceil(quantile * total));
        long seen = 0;
        for (int i = 0; i < counts.length; i++) {
            seen += counts[i];
            if (seen >= rank) {
                return millisOf(i);
            }
        }
        return millisOf(counts.length - 1);
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
