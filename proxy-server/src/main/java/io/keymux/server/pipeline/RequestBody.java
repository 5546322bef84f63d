package io.keymux.server.pipeline;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * A request body read once, bounded by {@code max_body_bytes}, kept for replay by failover.
 *
 * <p>Memory trade-off: the bytes are copied out of Netty's pooled buffers into one heap array as they
 * arrive. That costs one copy of each request body (bounded by {@code max_body_bytes}; chat prompts
 * are small), and in exchange no pooled buffer stays retained across the upstream attempts, the
 * queue wait or a cancellation, so no path can leak direct memory; each attempt wraps the same
 * array without copying it again.
 */
final class RequestBody {
    /**
     * The most allocated before bytes arrive, whatever Content-Length says: a client that declares
     * 10 MB and sends nothing must not make keymux hold 10 MB for it (the array grows as bytes come).
     */
    static final int MAX_UPFRONT_BYTES = 64 * 1024;

    private final long limit;
    private byte[] bytes;
    private int size;
    private boolean tooLarge;

    RequestBody(long limit, long expectedLength) {
        this.limit = limit;
        this.bytes = new byte[(int) Math.max(0, Math.min(Math.min(expectedLength, limit), MAX_UPFRONT_BYTES))];
    }

    /** The bytes allocated now (for tests of the up-front bound). */
    int capacity() {
        return bytes.length;
    }

    /** Appends a received chunk; {@code false} once the limit is exceeded (stop reading). */
    boolean append(ByteBuf chunk) {
        int n = chunk.readableBytes();
        if (tooLarge || size + (long) n > limit) {
            tooLarge = true;
            return false;
        }
        if (size + n > bytes.length) {
            bytes = Arrays.copyOf(bytes, (int) Math.min(limit, Math.max((long) size + n, bytes.length * 2L + 1024)));
        }
        chunk.getBytes(chunk.readerIndex(), bytes, size, n);
        size += n;
        return true;
    }

    boolean tooLarge() {
        return tooLarge;
    }

    /** The body; the array is exactly sized. */
    byte[] bytes() {
        return size == bytes.length ? bytes : Arrays.copyOf(bytes, size);
    }
}
