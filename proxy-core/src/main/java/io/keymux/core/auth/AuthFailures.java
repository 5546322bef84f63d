package io.keymux.core.auth;

import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Failed authentications (a wrong client key, a wrong admin token) counted per client address, so
 * that guessing gets slow: within a {@value #WINDOW_SECONDS} s window the first
 * {@value #FREE_FAILURES} failures from an address are answered at once, each later one after a
 * delay that doubles from {@value #FIRST_DELAY_MILLIS} ms up to {@value #MAX_DELAY_MILLIS} ms. The
 * answer is the same 401 either way (the delay is a timer, never a blocked thread), and requests that
 * authenticate are never delayed. An address crossing the threshold is logged once per window, with
 * the address and the count, never with what it presented.
 *
 * <p>Memory is bounded: at most {@value #MAX_ADDRESSES} addresses are tracked; past that, windows
 * that ended are dropped, and if all are live the table starts over (many addresses guessing at once
 * are then slowed less, never blocked more).
 */
public final class AuthFailures {
    static final int FREE_FAILURES = 5;
    static final long WINDOW_SECONDS = 60;
    static final long FIRST_DELAY_MILLIS = 100;
    static final long MAX_DELAY_MILLIS = 2_000;
    static final int MAX_ADDRESSES = 10_000;
    private static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(WINDOW_SECONDS);
    private static final Logger LOG = LoggerFactory.getLogger(AuthFailures.class);

    /** One address's failures in its current window. */
    private record Window(long startNanos, int failures) {}

    private final String what;
    private final TimeSource time;
    private final ConcurrentHashMap<String, Window> byAddress = new ConcurrentHashMap<>();

    /**
     * @param what what failed, for the log line: {@code "client key"} or {@code "admin token"}
     */
    public AuthFailures(String what, TimeSource time) {
        this.what = Objects.requireNonNull(what, "what");
        this.time = Objects.requireNonNull(time, "time");
    }

    /**
     * Counts a failed authentication from {@code address} and says how long to hold its 401.
     *
     * @param address the client's IP address, or {@code null} when it has none (then no delay)
     */
    public Duration failed(@Nullable String address) {
        if (address == null) {
            return Duration.ZERO;
        }
        long now = time.nanoTime();
        if (byAddress.size() >= MAX_ADDRESSES && !byAddress.containsKey(address)) {
            byAddress.values().removeIf(w -> now - w.startNanos() >= WINDOW_NANOS);
            if (byAddress.size() >= MAX_ADDRESSES) {
                byAddress.clear();
            }
        }
        Window window = byAddress.compute(address, (a, w) -> w == null || now - w.startNanos() >= WINDOW_NANOS
                ? new Window(now, 1)
                : new Window(w.startNanos(), w.failures() + 1));
        int failures = window.failures();
        if (failures == FREE_FAILURES + 1) {
            LOG.warn("{} failed authentications ({}) from {} within {} s: answering its next failures after a delay "
                    + "of up to {} ms", failures, what, address, WINDOW_SECONDS, MAX_DELAY_MILLIS);
        }
        return delayAfter(failures);
    }

    /** The delay of the {@code failures}-th failure in a window. */
    static Duration delayAfter(int failures) {
        if (failures <= FREE_FAILURES) {
            return Duration.ZERO;
        }
        int doublings = Math.min(failures - FREE_FAILURES - 1, 16);
        return Duration.ofMillis(Math.min(MAX_DELAY_MILLIS, FIRST_DELAY_MILLIS << doublings));
    }

    /** Addresses tracked now (for tests of the bound). */
    int tracked() {
        return byAddress.size();
    }
}
