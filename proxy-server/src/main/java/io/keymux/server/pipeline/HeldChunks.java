package io.keymux.server.pipeline;

import io.netty.buffer.ByteBuf;
import java.util.ArrayDeque;
import org.jspecify.annotations.Nullable;

/**
 * Answer chunks an upstream attempt holds back: while it looks at the start of the body to judge
 * the answer, or until the client's side subscribes to the body. Holds one reference of each chunk,
 * handed on by {@link #poll} or dropped by {@link #releaseAll}. Not thread-safe.
 */
final class HeldChunks {
    private final ArrayDeque<ByteBuf> chunks = new ArrayDeque<>(2);
    private int bytes;

    /** Holds {@code chunk} (takes its reference); an empty one is released at once. */
    void add(ByteBuf chunk) {
        if (chunk.isReadable()) {
            chunks.add(chunk);
            bytes += chunk.readableBytes();
        } else {
            chunk.release();
        }
    }

    /** Readable bytes held. */
    int bytes() {
        return bytes;
    }

    /** Chunks held. */
    int size() {
        return chunks.size();
    }

    /** The oldest chunk, whose reference the caller now owns, or {@code null} when none is held. */
    @Nullable ByteBuf poll() {
        ByteBuf chunk = chunks.poll();
        if (chunk != null) {
            bytes -= chunk.readableBytes();
        }
        return chunk;
    }

    /** Releases every chunk held. */
    void releaseAll() {
        ByteBuf chunk;
        while ((chunk = chunks.poll()) != null) {
            chunk.release();
        }
        bytes = 0;
    }

    /** A copy of the first {@code limit} bytes held, leaving the chunks as they are. */
    byte[] copyHead(int limit) {
        byte[] out = new byte[Math.min(bytes, limit)];
        int at = 0;
        for (ByteBuf chunk : chunks) {
            int n = Math.min(chunk.readableBytes(), out.length - at);
            if (n <= 0) {
                break;
            }
            chunk.getBytes(chunk.readerIndex(), out, at, n);
            at += n;
        }
        return out;
    }
}
