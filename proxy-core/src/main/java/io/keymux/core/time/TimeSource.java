package io.keymux.core.time;

/**
 * A monotonic nanosecond ticker plus wall-clock milliseconds, in the manner of Caffeine's
 * {@code Ticker}. Everything in proxy-core that measures time takes one, so tests drive a fake.
 */
public interface TimeSource {

    /** Monotonic nanoseconds, for durations and refills. */
    long nanoTime();

    /** Wall-clock milliseconds since the epoch, for UTC days, RFC 3339 times and HTTP dates. */
    long currentTimeMillis();

    /** The system clock. */
    static TimeSource system() {
        return SystemTimeSource.INSTANCE;
    }
}
