package io.keymux.core.cache;

import java.util.Objects;

/**
 * An answer as the cache keeps it: status, Content-Type and the body exactly as the client got it
 * (an event stream's events in order, {@code [DONE]} included), and what the original cost, so a hit
 * can count the money it saved.
 *
 * @param eventStream whether the body is {@code text/event-stream}
 * @param costUsd the original answer's cost in USD, 0 when its usage was unknown
 */
public record StoredAnswer(int status, String contentType, byte[] body, boolean eventStream, double costUsd) {
    /**
     * Heap an entry takes beyond its body, counted in its weight so small answers cannot overrun
     * {@code cache.max_bytes}: Caffeine's node (~100 bytes with expiry and weight), the key (object
     * plus a 32-byte digest array, ~70), the entry and this record (~60), the body's array header
     * and the content type string (~60), rounded up.
     */
    static final int OVERHEAD_BYTES = 320;

    public StoredAnswer {
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
    }

    /** The entry's weight against {@code cache.max_bytes}. */
    public int weight() {
        return body.length + contentType.length() + OVERHEAD_BYTES;
    }

    @Override
    public String toString() {
        return "StoredAnswer[status=" + status + ", contentType=" + contentType + ", bytes=" + body.length
                + ", eventStream=" + eventStream + "]";
    }
}
