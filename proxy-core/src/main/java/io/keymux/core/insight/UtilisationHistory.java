package io.keymux.core.insight;

import io.keymux.core.select.KeyStatus;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A sliding window of per-key samples (say, every 10 s over the last 15 minutes) from which the
 * recommendation rules read each key's window: requests and successes since the oldest sample still
 * in the window (the broker's totals minus that sample's), and the share of samples in which the key
 * used more than {@link Recommender#HOT_UTILISATION} of its RPM or TPM. Until the window has filled,
 * it covers the time since the first sample. Thread-safe; time is passed in, so tests need no clock.
 *
 * <pre>{@code
 * history.sample(time.nanoTime(), broker.keyStates());       // from a scheduler, not an event loop
 * KeyWindow w = history.window(time.nanoTime(), status);
 * }</pre>
 */
public final class UtilisationHistory {
    private final long windowNanos;
    private final Map<String, ArrayDeque<Sample>> samples = new HashMap<>();

    private UtilisationHistory(long windowNanos) {
        this.windowNanos = windowNanos;
    }

    /** A history keeping samples for {@code window}. */
    public static UtilisationHistory over(Duration window) {
        Objects.requireNonNull(window, "window");
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("window: " + window + " (expected: > 0)");
        }
        return new UtilisationHistory(window.toNanos());
    }

    /** One key's view of the window. */
    public record KeyWindow(long requests, long successes, double highUtilisationShare) {}

    private record Sample(long nanos, boolean hot, long requests, long successes) {}

    /** Records every key's current use; keys no longer present are forgotten. */
    public synchronized void sample(long nowNanos, List<KeyStatus> keys) {
        Map<String, ArrayDeque<Sample>> kept = new HashMap<>();
        for (KeyStatus k : keys) {
            ArrayDeque<Sample> ring = samples.getOrDefault(k.keyId(), new ArrayDeque<>());
            ring.addLast(new Sample(nowNanos, hot(k), k.totalRequests(), k.successes()));
            expire(ring, nowNanos);
            kept.put(k.keyId(), ring);
        }
        samples.clear();
        samples.putAll(kept);
    }

    /** The key's window ending now; a key never sampled counts from zero (it is new). */
    public synchronized KeyWindow window(long nowNanos, KeyStatus current) {
        ArrayDeque<Sample> ring = samples.get(current.keyId());
        if (ring == null) {
            return new KeyWindow(current.totalRequests(), current.successes(), 0.0);
        }
        expire(ring, nowNanos);
        if (ring.isEmpty()) {
            return new KeyWindow(0, 0, 0.0);
        }
        Sample oldest = ring.peekFirst();
        long hot = ring.stream().filter(Sample::hot).count();
        // A key replaced under the same id by a reload may restart its counters: never negative.
        long requests = Math.max(0, current.totalRequests() - oldest.requests());
        long successes = Math.max(0, Math.min(requests, current.successes() - oldest.successes()));
        return new KeyWindow(requests, successes, (double) hot / ring.size());
    }

    private void expire(ArrayDeque<Sample> ring, long nowNanos) {
        while (!ring.isEmpty() && nowNanos - ring.peekFirst().nanos() > windowNanos) {
            ring.removeFirst();
        }
    }

    /** Whether the key uses more than {@link Recommender#HOT_UTILISATION} of a configured RPM or TPM. */
    static boolean hot(KeyStatus k) {
        Long rpm = k.limits().rpm();
        Long tpm = k.limits().tpm();
        return (rpm != null && rpm > 0 && k.usage().rpm() > Recommender.HOT_UTILISATION * rpm)
                || (tpm != null && tpm > 0 && k.usage().tpm() > Recommender.HOT_UTILISATION * tpm);
    }
}
