package io.keymux.server.pipeline;

import io.keymux.server.affinity.AnswerWatch;
import io.keymux.server.wire.JsonUsage;
import io.keymux.server.wire.RequestInspector;
import io.keymux.server.wire.SseUsageScanner;
import io.keymux.server.wire.TokenUsage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.jspecify.annotations.Nullable;

/**
 * Reads the token usage of one answer as it streams to the client: an event stream through
 * {@link SseUsageScanner} (removing the usage-only chunk when keymux asked for it and the client did
 * not), a JSON answer by keeping a bounded copy for {@link JsonUsage#extract(ByteBuf)} at the end
 * (the {@code usage} object comes last, so it cannot be read before the body is complete). Other
 * bodies, and compressed ones, pass untouched with unknown usage.
 *
 * <p>{@link #feed(ByteBuf)} takes one reference and returns one the caller must release (normally by
 * writing it). Not thread-safe: fed in order by one response.
 */
public final class UsageTap implements AutoCloseable {
    /** JSON answers larger than this are not parsed for usage (their usage stays unknown). */
    static final int MAX_JSON_COPY = 1024 * 1024;

    private final @Nullable SseUsageScanner sse;
    private @Nullable ByteBuf json;
    private boolean jsonTooLarge;
    /** Who else looks at the answer (provider-object affinity), and the answer's status for it. */
    private @Nullable AnswerWatch watch;
    private int status;

    private UsageTap(@Nullable SseUsageScanner sse, boolean json) {
        this.sse = sse;
        this.json = json ? Unpooled.buffer(1024) : null;
    }

    /**
     * The tap for an answer.
     *
     * @param contentType the answer's Content-Type
     * @param contentEncoding the answer's Content-Encoding (a compressed body is not read)
     * @param dropUsageChunk whether keymux added {@code stream_options.include_usage} itself
     */
    public static UsageTap of(@Nullable String contentType, @Nullable String contentEncoding, boolean dropUsageChunk) {
        boolean plain = contentEncoding == null || contentEncoding.isBlank() || contentEncoding.equalsIgnoreCase("identity");
        if (plain && SseUsageScanner.isEventStream(contentType)) {
            return new UsageTap(dropUsageChunk ? SseUsageScanner.droppingUsageChunk() : SseUsageScanner.observing(),
                    false);
        }
        return new UsageTap(null, plain && RequestInspector.isJson(contentType));
    }

    /** Lets {@code watch} see every chunk and the end of this answer of {@code status}; returns this tap. */
    UsageTap watchedBy(@Nullable AnswerWatch watch, int status) {
        this.watch = watch;
        this.status = status;
        return this;
    }

    /** Whether the tap may remove bytes (the usage-only chunk), so the answer's length may change. */
    public boolean changesLength() {
        return sse != null && sse.dropsUsageChunk();
    }

    /** Takes one reference of {@code chunk}; returns one reference the caller owns. */
    public ByteBuf feed(ByteBuf chunk) {
        AnswerWatch w = watch;
        if (w != null) {
            w.feed(chunk);
        }
        if (sse != null) {
            return sse.feed(chunk);
        }
        ByteBuf copy = json;
        if (copy != null && !jsonTooLarge) {
            if (copy.readableBytes() + chunk.readableBytes() > MAX_JSON_COPY) {
                jsonTooLarge = true;
                copy.release();
                json = null;
            } else {
                copy.writeBytes(chunk, chunk.readerIndex(), chunk.readableBytes());
            }
        }
        return chunk;
    }

    /** Bytes held back by the SSE scanner, to send once the upstream ended (often empty). */
    public ByteBuf finish() {
        AnswerWatch w = watch;
        if (w != null) {
            watch = null;
            w.ended(status);
        }
        return sse != null ? sse.finish() : Unpooled.EMPTY_BUFFER;
    }

    /** The usage the answer reported; {@link TokenUsage#UNKNOWN} when none or not readable. */
    public TokenUsage usage() {
        if (sse != null) {
            return sse.usage();
        }
        ByteBuf copy = json;
        return copy != null ? JsonUsage.extract(copy) : TokenUsage.UNKNOWN;
    }

    /** Releases what the tap holds; idempotent. */
    @Override
    public void close() {
        if (sse != null) {
            sse.close();
        }
        ByteBuf copy = json;
        if (copy != null) {
            json = null;
            copy.release();
        }
    }
}
