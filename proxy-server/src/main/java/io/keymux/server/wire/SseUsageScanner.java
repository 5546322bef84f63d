package io.keymux.server.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.ByteProcessor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Watches a {@code text/event-stream} answer chunk by chunk as it passes to the client, reads
 * the token usage it reports, and can remove the usage-only chunk keymux asked for itself.
 *
 * <p>Events may be split across chunks at any byte (inside a {@code data:} line, a line ending
 * or a multi-byte character); lines end in {@code \n}, {@code \r\n} or {@code \r}. The scanner
 * works on bytes: only the {@code data:} payload of the current event is copied (to parse it
 * once the event is complete), and only when that payload mentions a {@code "usage"} object is
 * it parsed, with Jackson's streaming parser. An event longer than {@code maxEventBytes}
 * (default 64 KiB) is not looked at; the stream itself is never buffered.
 *
 * <p>What it reads, last value wins per counter: OpenAI's {@code usage.prompt_tokens} /
 * {@code completion_tokens} / {@code prompt_tokens_details.cached_tokens} (the final chunk when
 * {@code stream_options.include_usage} is set), Anthropic's {@code message.usage} ({@code message_start}:
 * {@code input_tokens}, {@code cache_read_input_tokens}, {@code cache_creation_input_tokens}) and
 * {@code usage.output_tokens} ({@code message_delta}), the Responses API's {@code response.usage}
 * ({@code response.completed}: {@code input_tokens}, {@code input_tokens_details.cached_tokens},
 * {@code output_tokens}); and whether {@code data: [DONE]} was seen. {@link TokenUsage} says how
 * the shapes map to keymux's counts.
 *
 * <p>Two modes. {@link #observing()} only watches: {@link #feed(ByteBuf)} always returns the
 * chunk it was given. {@link #droppingUsageChunk()} also removes the OpenAI usage-only event
 * (top-level {@code "choices":[]} and a non-null {@code usage} object), for when keymux added
 * {@code include_usage} and the client did not ask for it. To do that without sending half an
 * event, it holds back the bytes of an event that is still incomplete at the end of a chunk
 * (at most {@code maxEventBytes}) until the event ends; chunks that end on an event boundary
 * and hold no usage-only event are returned as they came.
 *
 * <p><b>Reference counting.</b> {@link #feed(ByteBuf)} takes over one reference of the chunk
 * and returns one reference the caller owns and must release (normally by writing it): the
 * very same buffer in the common case, else a retained slice, a composite of retained slices,
 * or {@link Unpooled#EMPTY_BUFFER}; in those cases the scanner has released the chunk's
 * reference. Held-back bytes are retained slices owned by the scanner until a later
 * {@code feed}, {@link #finish()} (which returns them) or {@link #close()} (which releases them).
 *
 * <p>Not thread-safe: one scanner per response, fed in order (as a Reactor {@code map} does).
 *
 * <pre>{@code
 * SseUsageScanner scanner = injected ? SseUsageScanner.droppingUsageChunk() : SseUsageScanner.observing();
 * Flux<ByteBuf> toClient = upstreamBody.map(scanner::feed)
 *         .concatWith(Mono.fromSupplier(scanner::finish))
 *         .doFinally(s -> { scanner.close(); settle(scanner.usage()); });
 * }</pre>
 */
public final class SseUsageScanner implements AutoCloseable {

    /** Default bound on one event's bytes: beyond it the event is forwarded without a look. */
    public static final int DEFAULT_MAX_EVENT_BYTES = 64 * 1024;

    private static final byte[] DATA = {'d', 'a', 't', 'a', ':'};
    private static final byte[] DONE = {'[', 'D', 'O', 'N', 'E', ']'};
    private static final byte[] USAGE = {'"', 'u', 's', 'a', 'g', 'e', '"'};

    /** Reading the field name; {@link #linePos} bytes of {@code data:} matched so far. */
    private static final int FIELD = 0;
    /** After {@code data:}: one optional space to skip. */
    private static final int DATA_SPACE = 1;
    /** Inside a data value: copy bytes. */
    private static final int DATA_VALUE = 2;
    /** Any other line (comments, {@code event:}, {@code id:}): skip to its end. */
    private static final int OTHER = 3;

    private final boolean dropUsageChunk;
    private final int maxEventBytes;

    // The current line.
    private int lineState = FIELD;
    private int linePos;
    private boolean lineHasBytes;
    /** The last byte seen was a CR ending a line: a following LF belongs to it. */
    private boolean afterCr;
    /** ...and that CR ended an event (a blank line). */
    private boolean crEndedEvent;

    // The current event.
    private byte[] data = new byte[512];
    private int dataLen;
    private int dataLines;
    /** Bytes of the current event that arrived in earlier chunks. */
    private long eventBytesBefore;
    private boolean oversized;
    private @Nullable ByteBuf held;
    private boolean lastEventDropped;

    // The output of the current feed: one range of the chunk, or a list of buffers.
    private int soleStart = -1;
    private int soleEnd;
    private final ArrayList<ByteBuf> parts = new ArrayList<>(4);

    // What was learned.
    /** Every counter reported so far, last value wins; the shape is resolved in {@link #usage()}. */
    private final UsageFields reported = new UsageFields();
    private boolean done;
    private int droppedEvents;
    private boolean closed;

    private SseUsageScanner(boolean dropUsageChunk, int maxEventBytes) {
        this.dropUsageChunk = dropUsageChunk;
        this.maxEventBytes = maxEventBytes;
    }

    /**
     * Whether a Content-Type value names an SSE stream ({@code text/event-stream},
     * case-insensitive, parameters ignored): the answers to scan with this class.
     */
    public static boolean isEventStream(@Nullable CharSequence contentType) {
        if (contentType == null) {
            return false;
        }
        String value = contentType.toString().trim();
        String type = "text/event-stream";
        if (!value.regionMatches(true, 0, type, 0, type.length())) {
            return false;
        }
        String rest = value.substring(type.length()).trim();
        return rest.isEmpty() || rest.charAt(0) == ';';
    }

    /** A scanner that only watches: {@link #feed(ByteBuf)} returns every chunk unchanged. */
    public static SseUsageScanner observing() {
        return new SseUsageScanner(false, DEFAULT_MAX_EVENT_BYTES);
    }

    /** A scanner that also removes the usage-only chunk keymux asked the upstream for. */
    public static SseUsageScanner droppingUsageChunk() {
        return new SseUsageScanner(true, DEFAULT_MAX_EVENT_BYTES);
    }

    /**
     * A scanner with an explicit event bound.
     *
     * @param dropUsageChunk whether to remove the usage-only chunk
     * @param maxEventBytes events longer than this are forwarded without being looked at
     */
    public static SseUsageScanner of(boolean dropUsageChunk, int maxEventBytes) {
        if (maxEventBytes < 64) {
            throw new IllegalArgumentException("maxEventBytes: " + maxEventBytes + " (expected: >= 64)");
        }
        return new SseUsageScanner(dropUsageChunk, maxEventBytes);
    }

    /**
     * Scans the next chunk of the stream and returns the bytes to send to the client.
     *
     * <p>Takes over one reference of {@code chunk}; the caller owns the returned buffer (see the
     * class comment). After {@link #close()} chunks pass through unexamined.
     */
    public ByteBuf feed(ByteBuf chunk) {
        if (closed || !chunk.isReadable()) {
            // Nothing to look at, nothing that changes what is held.
            return chunk;
        }
        int r = chunk.readerIndex();
        int w = chunk.writerIndex();
        int eventStart = r;
        int runStart = r;
        int i = r;
        if (afterCr && i < w) {
            afterCr = false;
            if (chunk.getByte(i) == '\n') {
                i++;
                if (crEndedEvent) {
                    // The LF completes the terminator of the event before: it goes where that event went.
                    eventStart = i;
                    if (lastEventDropped) {
                        runStart = i;
                    }
                }
            }
        }
        while (i < w) {
            int eol = chunk.forEachByte(i, w - i, ByteProcessor.FIND_CRLF);
            int segmentEnd = eol < 0 ? w : eol;
            if (segmentEnd > i) {
                lineBytes(chunk, i, segmentEnd);
            }
            if (eol < 0) {
                break;
            }
            int next = eol + 1;
            boolean crAtEnd = false;
            if (chunk.getByte(eol) == '\r') {
                if (next < w) {
                    if (chunk.getByte(next) == '\n') {
                        next++;
                    }
                } else {
                    crAtEnd = true;
                }
            }
            boolean blank = endLine();
            if (blank) {
                if (eventBytesBefore + (next - eventStart) > maxEventBytes) {
                    oversized = true;
                }
                boolean drop = dispatch();
                if (drop) {
                    addRange(chunk, runStart, eventStart);
                    if (held != null) {
                        held.release();
                        held = null;
                    }
                    runStart = next;
                } else if (held != null) {
                    // The held bytes begin this event, and so everything sent from this chunk.
                    addBuffer(chunk, held);
                    held = null;
                }
                lastEventDropped = drop;
                eventStart = next;
                eventBytesBefore = 0;
                oversized = false;
            }
            afterCr = crAtEnd;
            crEndedEvent = crAtEnd && blank;
            i = next;
        }
        int partial = w - eventStart;
        if (eventBytesBefore + partial > maxEventBytes) {
            oversized = true;
        }
        eventBytesBefore += partial;
        if (dropUsageChunk && !oversized) {
            addRange(chunk, runStart, eventStart);
            if (partial > 0) {
                ByteBuf tail = chunk.retainedSlice(eventStart, partial);
                held = held == null ? tail : append(held, tail);
            }
        } else {
            if (held != null) {
                addBuffer(chunk, held);
                held = null;
            }
            addRange(chunk, runStart, w);
        }
        return output(chunk, r, w);
    }

    /**
     * Ends the stream: returns the held-back bytes of an incomplete last event (or
     * {@link Unpooled#EMPTY_BUFFER}); the caller owns the result. Such an event is not dispatched,
     * as an SSE client would not dispatch it either.
     */
    public ByteBuf finish() {
        ByteBuf rest = held;
        held = null;
        closed = true;
        return rest == null ? Unpooled.EMPTY_BUFFER : rest;
    }

    /** Releases held-back bytes (e.g. the client went away); idempotent. */
    @Override
    public void close() {
        closed = true;
        if (held != null) {
            held.release();
            held = null;
        }
    }

    /** The usage reported so far (complete once the stream ended). */
    public TokenUsage usage() {
        return reported.toUsage();
    }

    /** Whether a {@code data: [DONE]} event was seen. */
    public boolean doneSeen() {
        return done;
    }

    /** How many usage-only events were removed. */
    public int droppedEvents() {
        return droppedEvents;
    }

    /** Whether this scanner removes the usage-only chunk. */
    public boolean dropsUsageChunk() {
        return dropUsageChunk;
    }

    // ---- lines

    private void lineBytes(ByteBuf chunk, int from, int to) {
        lineHasBytes = true;
        int i = from;
        while (i < to && lineState == FIELD) {
            if (chunk.getByte(i) == DATA[linePos]) {
                linePos++;
                if (linePos == DATA.length) {
                    lineState = DATA_SPACE;
                }
            } else {
                lineState = OTHER;
            }
            i++;
        }
        if (lineState == DATA_SPACE && i < to) {
            if (chunk.getByte(i) == ' ') {
                i++;
            }
            beginDataValue();
            lineState = DATA_VALUE;
        }
        if (lineState == DATA_VALUE && i < to) {
            appendData(chunk, i, to - i);
        }
    }

    /** Ends the current line; returns whether it was blank (the end of an event). */
    private boolean endLine() {
        boolean blank = !lineHasBytes;
        // "data:" or a bare "data" is a data line with an empty value.
        if (lineState == DATA_SPACE || (lineState == FIELD && linePos == DATA.length - 1)) {
            beginDataValue();
        }
        lineState = FIELD;
        linePos = 0;
        lineHasBytes = false;
        return blank;
    }

    private void beginDataValue() {
        if (dataLines > 0) {
            appendByte((byte) '\n');
        }
        dataLines++;
    }

    private void appendByte(byte b) {
        if (reserve(1)) {
            data[dataLen++] = b;
        }
    }

    private void appendData(ByteBuf chunk, int index, int length) {
        if (reserve(length)) {
            chunk.getBytes(index, data, dataLen, length);
            dataLen += length;
        }
    }

    private boolean reserve(int length) {
        if (oversized) {
            return false;
        }
        int needed = dataLen + length;
        if (needed > maxEventBytes) {
            oversized = true;
            return false;
        }
        if (needed > data.length) {
            data = Arrays.copyOf(data, Math.min(maxEventBytes, Math.max(needed, data.length * 2)));
        }
        return true;
    }

    // ---- events

    /** Looks at the complete current event and resets it; returns whether to drop it. */
    private boolean dispatch() {
        boolean drop = false;
        if (dataLines > 0 && !oversized) {
            if (isDone()) {
                done = true;
            } else if (mentionsUsageObject()) {
                drop = readEvent() && dropUsageChunk;
            }
        }
        if (drop) {
            droppedEvents++;
        }
        dataLen = 0;
        dataLines = 0;
        return drop;
    }

    private boolean isDone() {
        int end = dataLen;
        while (end > 0 && (data[end - 1] == ' ' || data[end - 1] == '\t')) {
            end--;
        }
        return end == DONE.length && Arrays.equals(data, 0, end, DONE, 0, DONE.length);
    }

    /**
     * Whether the payload holds {@code "usage"} followed by a colon and an object: cheap, and
     * exact enough, since a quote inside a JSON string is always escaped. Most events
     * ({@code "usage":null} or none) stop here without being parsed.
     */
    private boolean mentionsUsageObject() {
        int limit = dataLen - USAGE.length;
        outer:
        for (int i = 0; i <= limit; i++) {
            for (int k = 0; k < USAGE.length; k++) {
                if (data[i + k] != USAGE[k]) {
                    continue outer;
                }
            }
            int j = skipWhitespace(i + USAGE.length);
            if (j < dataLen && data[j] == ':') {
                j = skipWhitespace(j + 1);
                if (j < dataLen && data[j] == '{') {
                    return true;
                }
            }
        }
        return false;
    }

    private int skipWhitespace(int from) {
        int j = from;
        while (j < dataLen && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r')) {
            j++;
        }
        return j;
    }

    /**
     * Parses the event's JSON; records its usage and returns whether it is a usage-only chunk.
     * A payload that does not parse records nothing and is never dropped.
     */
    private boolean readEvent() {
        UsageFields usage = new UsageFields();
        boolean usageObject = false;
        boolean choicesEmpty = false;
        try (JsonParser p = WireJson.FACTORY.createParser(data, 0, dataLen)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                switch (name) {
                    case "usage" -> {
                        if (value == JsonToken.START_OBJECT) {
                            usageObject = true;
                            usage.read(p);
                        } else {
                            usageObject = false;
                        }
                    }
                    case "choices" -> {
                        if (value == JsonToken.START_ARRAY) {
                            JsonToken first = p.nextToken();
                            choicesEmpty = first == JsonToken.END_ARRAY;
                            if (!choicesEmpty) {
                                p.skipChildren();
                                while (p.nextToken() != JsonToken.END_ARRAY) {
                                    p.skipChildren();
                                }
                            }
                        } else {
                            choicesEmpty = false;
                            p.skipChildren();
                        }
                    }
                    // Anthropic's message_start and the Responses API's events nest the usage.
                    case "message", "response" -> {
                        if (value == JsonToken.START_OBJECT) {
                            usage.readUsageMember(p);
                        } else {
                            p.skipChildren();
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (p.nextToken() != null) {
                return false;
            }
        } catch (IOException malformed) {
            // Not JSON after all: forward it, learn nothing from it.
            return false;
        }
        reported.merge(usage);
        return usageObject && choicesEmpty;
    }

    // ---- output

    private void addRange(ByteBuf chunk, int from, int to) {
        if (to <= from) {
            return;
        }
        if (soleStart < 0 && parts.isEmpty()) {
            soleStart = from;
            soleEnd = to;
        } else {
            flushSole(chunk);
            parts.add(chunk.retainedSlice(from, to - from));
        }
    }

    private void addBuffer(ByteBuf chunk, ByteBuf buffer) {
        flushSole(chunk);
        parts.add(buffer);
    }

    private void flushSole(ByteBuf chunk) {
        if (soleStart >= 0) {
            parts.add(chunk.retainedSlice(soleStart, soleEnd - soleStart));
            soleStart = -1;
        }
    }

    private ByteBuf output(ByteBuf chunk, int r, int w) {
        if (parts.isEmpty()) {
            if (soleStart == r && soleEnd == w) {
                soleStart = -1;
                return chunk;
            }
            ByteBuf result = soleStart < 0 ? Unpooled.EMPTY_BUFFER : chunk.retainedSlice(soleStart, soleEnd - soleStart);
            soleStart = -1;
            chunk.release();
            return result;
        }
        flushSole(chunk);
        chunk.release();
        if (parts.size() == 1) {
            ByteBuf only = parts.get(0);
            parts.clear();
            return only;
        }
        CompositeByteBuf composite = chunk.alloc().compositeBuffer(parts.size());
        composite.addComponents(true, parts);
        parts.clear();
        return composite;
    }

    private static ByteBuf append(ByteBuf held, ByteBuf tail) {
        CompositeByteBuf composite;
        if (held instanceof CompositeByteBuf c) {
            composite = c;
        } else {
            composite = tail.alloc().compositeBuffer();
            composite.addComponent(true, held);
        }
        composite.addComponent(true, tail);
        return composite;
    }
}
