package io.keymux.core.health;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which upstreams said they are overloaded (Anthropic's 529 {@code overloaded_error}, a 503 naming
 * the provider as overloaded) and until when: every key of such an upstream is skipped for
 * {@code health.overload_backoff}, since failing over to a sibling key on the same provider only
 * multiplies its load. A later signal never shortens a backoff already running. Thread-safe and
 * lock-free to read; times are {@code TimeSource.nanoTime()} values.
 *
 * <pre>{@code
 * OverloadBackoff backoff = new OverloadBackoff();
 * OverloadBackoff.Upstream anthropic = backoff.upstream("anthropic");
 * anthropic.backOff(now, Duration.ofSeconds(5));
 * anthropic.overloaded(now);    // true for 5 s
 * }</pre>
 */
public final class OverloadBackoff {
    private final ConcurrentHashMap<String, Upstream> upstreams = new ConcurrentHashMap<>();

    /** The backoff state of one upstream, created on first use; the same object every time. */
    public Upstream upstream(String name) {
        Objects.requireNonNull(name, "name");
        return upstreams.computeIfAbsent(name, Upstream::new);
    }

    /** Nanoseconds of backoff left per upstream that is backing off now, by name. */
    public Map<String, Long> backingOff(long now) {
        Map<String, Long> out = new TreeMap<>();
        upstreams.forEach((name, u) -> {
            long left = u.remainingNanos(now);
            if (left > 0) {
                out.put(name, left);
            }
        });
        return out;
    }

    /** One upstream's backoff deadline. */
    public static final class Upstream {
        private static final long NONE = Long.MIN_VALUE;
        private final String name;
        private volatile long until = NONE;

        private Upstream(String name) {
            this.name = name;
        }

        /** The upstream's name. */
        public String name() {
            return name;
        }

        /** No request goes to this upstream for {@code backoff} from {@code now} (never shortening a running one). */
        public synchronized void backOff(long now, Duration backoff) {
            long next = now + Math.max(1, backoff.toNanos());
            if (until == NONE || next - until > 0) {
                until = next;
            }
        }

        /** Whether the upstream is backing off at {@code now}. */
        public boolean overloaded(long now) {
            long u = until;
            return u != NONE && now - u < 0;
        }

        /** Nanoseconds of backoff left at {@code now}; 0 when none. */
        public long remainingNanos(long now) {
            long u = until;
            return u == NONE || now - u >= 0 ? 0 : u - now;
        }

        @Override
        public String toString() {
            return "Upstream[" + name + "]";
        }
    }
}
