package io.keymux.server.cache;

import io.keymux.core.cache.Flight;
import io.keymux.core.cache.StoredAnswer;

/**
 * What {@link ResponseCache#decide} says about one request; {@link #label()} is its
 * {@code X-Keymux-Cache} header and audit {@code cache} value.
 */
public sealed interface CacheStep {

    /** {@code off}, {@code bypass}, {@code hit}, {@code coalesced} or {@code miss}. */
    String label();

    /** Whether a request with this {@link #label()} was answered without an upstream call of its own. */
    static boolean answeredFromCache(String label) {
        return "hit".equals(label) || "coalesced".equals(label);
    }

    /** The task does not cache: no header, audit {@code off}. */
    record Off() implements CacheStep {
        @Override
        public String label() {
            return "off";
        }
    }

    /** Not cacheable (not a JSON POST, a stream the task does not keep, {@code Cache-Control: no-cache}): upstream, not stored. */
    record Bypass() implements CacheStep {
        @Override
        public String label() {
            return "bypass";
        }
    }

    /** Answer from memory. */
    record Hit(StoredAnswer answer) implements CacheStep {
        @Override
        public String label() {
            return "hit";
        }
    }

    /** Wait for the identical request in flight ({@link CoalescedAnswer}). */
    record Join(Flight flight) implements CacheStep {
        @Override
        public String label() {
            return "coalesced";
        }
    }

    /** Go upstream and feed {@code flight} with the answer ({@link FlightRelay}). */
    record Lead(Flight flight) implements CacheStep {
        @Override
        public String label() {
            return "miss";
        }
    }
}
