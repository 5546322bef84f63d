package io.keymux.core.history;

/**
 * A small log-scale histogram layout for one step's latencies, computed with bit arithmetic only (no
 * {@code Math.log} on the request path): bucket 0 holds everything under {@value #FLOOR_MICROS} µs;
 * above that, each doubling of latency is split into 8 equal buckets, up to about 18 minutes; the
 * last bucket takes everything longer. A percentile is read as the middle of its bucket, so it is
 * within 6.25 % of the true value.
 *
 * <pre>{@code
 * int[] counts = new int[LatencyBuckets.COUNT];
 * counts[LatencyBuckets.of(12_000_000)]++;          // 12 ms
 * double p99 = LatencyBuckets.percentileMillis(counts, 0.99);
 * }</pre>
 */
public final class LatencyBuckets {
    /** Latencies below this many microseconds share bucket 0 (2^6). */
    public static final long FLOOR_MICROS = 64;
    private static final int FLOOR_EXPONENT = 6;
    /** Buckets per doubling, as a power of two. */
    private static final int SUB_BITS = 3;
    private static final int PER_DOUBLING = 1 << SUB_BITS;
    /** The highest doubling kept: 2^30 µs is about 18 minutes. */
    private static final int TOP_EXPONENT = 30;
    /** How many buckets a step keeps. */
    public static final int COUNT = 1 + (TOP_EXPONENT - FLOOR_EXPONENT + 1) * PER_DOUBLING;

    private LatencyBuckets() {}

    /** The bucket of a latency in nanoseconds (negative counts as 0). */
    public static int of(long nanos) {
        long micros = nanos / 1_000;
        if (micros < FLOOR_MICROS) {
            return 0;
        }
        int exponent = 63 - Long.numberOfLeadingZeros(micros);
        if (exponent > TOP_EXPONENT) {
            return COUNT - 1;
        }
        int sub = (int) (micros >>> (exponent - SUB_BITS)) & (PER_DOUBLING - 1);
        return 1 + (exponent - FLOOR_EXPONENT) * PER_DOUBLING + sub;
    }

    /** The value a bucket stands for, in milliseconds: the middle of its bounds. */
    public static double millisOf(int bucket) {
        if (bucket <= 0) {
            return FLOOR_MICROS / 2 / 1_000.0;
        }
        int index = Math.min(bucket, COUNT - 1) - 1;
        int exponent = FLOOR_EXPONENT + index / PER_DOUBLING;
        int sub = index % PER_DOUBLING;
        double octave = Math.scalb(1.0, exponent);
        double lower = octave * (1 + sub / (double) PER_DOUBLING);
        return (lower + octave / PER_DOUBLING / 2) / 1_000.0;
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
}
