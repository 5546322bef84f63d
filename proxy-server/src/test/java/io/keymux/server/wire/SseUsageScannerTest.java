package io.keymux.server.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ResourceLeakDetector;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SseUsageScannerTest {

    private static ResourceLeakDetector.Level previousLevel = ResourceLeakDetector.Level.SIMPLE;

    private static final String HEAD = ""
            + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
            + "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n"
            + ": keep-alive\n\n"
            + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße \uD83D\uDE00 "
            + "\\\"usage\\\":{\"}}],\"usage\":null}\n\n"
            + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
            + "\"usage\":null}\n\n";
    private static final String USAGE_EVENT = ""
            + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":17,\"completion_tokens\":42,\"total_tokens\":59}}\n\n";
    private static final String DONE = "data: [DONE]\n\n";
    private static final String OPENAI_WITH_USAGE = HEAD + USAGE_EVENT + DONE;
    private static final String OPENAI_WITHOUT_USAGE = HEAD + DONE;

    private static final String ANTHROPIC = ""
            + "event: message_start\n"
            + "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
            + "\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
            + "event: content_block_delta\n"
            + "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
            + "event: message_delta\n"
            + "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n"
            + "event: message_stop\n"
            + "data: {\"type\":\"message_stop\"}\n\n";

    @BeforeAll
    static void paranoid() {
        previousLevel = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterAll
    static void restore() {
        ResourceLeakDetector.setLevel(previousLevel);
    }

    /** The result of streaming chunks through a scanner, with every buffer accounted for. */
    private record Run(String output, TokenUsage usage, boolean done, int dropped) {}

    private static Run run(SseUsageScanner scanner, List<byte[]> chunks, ByteBufAllocator alloc) {
        List<ByteBuf> inputs = new ArrayList<>();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] c : chunks) {
            ByteBuf in = alloc.buffer(c.length).writeBytes(c);
            inputs.add(in);
            ByteBuf forwarded = scanner.feed(in);
            out.writeBytes(readAndRelease(forwarded));
        }
        out.writeBytes(readAndRelease(scanner.finish()));
        scanner.close();
        for (ByteBuf in : inputs) {
            assertThat(in.refCnt()).as("input chunk released").isZero();
        }
        return new Run(out.toString(UTF_8), scanner.usage(), scanner.doneSeen(), scanner.droppedEvents());
    }

    private static byte[] readAndRelease(ByteBuf buf) {
        byte[] bytes = new byte[buf.readableBytes()];
        buf.getBytes(buf.readerIndex(), bytes);
        if (buf != Unpooled.EMPTY_BUFFER) {
            // A slice shares its parent's count, so release() may return false here; the
            // inputs' counts, checked after the run, prove nothing is left behind.
            assertThat(buf.refCnt()).isPositive();
            buf.release();
        }
        return bytes;
    }

    private static List<byte[]> split(byte[] all, int... cuts) {
        List<byte[]> chunks = new ArrayList<>();
        int from = 0;
        for (int cut : cuts) {
            chunks.add(java.util.Arrays.copyOfRange(all, from, cut));
            from = cut;
        }
        chunks.add(java.util.Arrays.copyOfRange(all, from, all.length));
        return chunks;
    }

    private static String withLineEnding(String lf, String ending) {
        return lf.replace("\n", ending);
    }

    @ParameterizedTest
    @ValueSource(strings = {"\n", "\r\n", "\r"})
    void dropsUsageChunkAtEverySplit(String ending) {
        String stream = withLineEnding(OPENAI_WITH_USAGE, ending);
        String expected = withLineEnding(OPENAI_WITHOUT_USAGE, ending);
        byte[] bytes = stream.getBytes(UTF_8);
        for (int cut = 0; cut <= bytes.length; cut++) {
            Run run = run(SseUsageScanner.droppingUsageChunk(), split(bytes, cut), PooledByteBufAllocator.DEFAULT);
            assertThat(run.output()).as("cut at %d", cut).isEqualTo(expected);
            assertThat(run.usage()).isEqualTo(new TokenUsage(17L, 42L));
            assertThat(run.done()).isTrue();
            assertThat(run.dropped()).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"\n", "\r\n", "\r"})
    void observesWithoutChangingAtEverySplit(String ending) {
        String stream = withLineEnding(OPENAI_WITH_USAGE, ending);
        byte[] bytes = stream.getBytes(UTF_8);
        for (int cut = 0; cut <= bytes.length; cut++) {
            Run run = run(SseUsageScanner.observing(), split(bytes, cut), Unpooled.buffer(0).alloc());
            assertThat(run.output()).as("cut at %d", cut).isEqualTo(stream);
            assertThat(run.usage()).isEqualTo(new TokenUsage(17L, 42L));
            assertThat(run.done()).isTrue();
            assertThat(run.dropped()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"\n", "\r\n", "\r"})
    void streamWithoutUsageIsUntouchedAtEverySplit(String ending) {
        String stream = withLineEnding(OPENAI_WITHOUT_USAGE, ending);
        byte[] bytes = stream.getBytes(UTF_8);
        for (int cut = 0; cut <= bytes.length; cut++) {
            Run run = run(SseUsageScanner.droppingUsageChunk(), split(bytes, cut), PooledByteBufAllocator.DEFAULT);
            assertThat(run.output()).as("cut at %d", cut).isEqualTo(stream);
            assertThat(run.usage()).isEqualTo(TokenUsage.UNKNOWN);
            assertThat(run.done()).isTrue();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"\n", "\r\n", "\r"})
    void byteByByteAndRandomSplits(String ending) {
        String stream = withLineEnding(OPENAI_WITH_USAGE, ending);
        String expected = withLineEnding(OPENAI_WITHOUT_USAGE, ending);
        byte[] bytes = stream.getBytes(UTF_8);
        int[] everyByte = new int[bytes.length - 1];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = i + 1;
        }
        Run oneByOne = run(SseUsageScanner.droppingUsageChunk(), split(bytes, everyByte), PooledByteBufAllocator.DEFAULT);
        assertThat(oneByOne.output()).isEqualTo(expected);
        assertThat(oneByOne.usage()).isEqualTo(new TokenUsage(17L, 42L));

        Random random = new Random(42);
        for (int round = 0; round < 100; round++) {
            int a = random.nextInt(bytes.length + 1);
            int b = random.nextInt(bytes.length + 1);
            int c = random.nextInt(bytes.length + 1);
            int[] cuts = java.util.stream.IntStream.of(a, b, c).sorted().toArray();
            Run run = run(SseUsageScanner.droppingUsageChunk(), split(bytes, cuts), PooledByteBufAllocator.DEFAULT);
            assertThat(run.output()).as("cuts %s", java.util.Arrays.toString(cuts)).isEqualTo(expected);
            assertThat(run.usage()).isEqualTo(new TokenUsage(17L, 42L));
            assertThat(run.done()).isTrue();
        }
    }

    @Test
    void returnsTheSameBufferWhenNothingIsDropped() {
        SseUsageScanner scanner = SseUsageScanner.droppingUsageChunk();
        ByteBuf first = Unpooled.copiedBuffer(HEAD, UTF_8);
        assertThat(scanner.feed(first)).isSameAs(first);
        assertThat(first.refCnt()).isEqualTo(1);
        ByteBuf done = Unpooled.copiedBuffer(DONE, UTF_8);
        assertThat(scanner.feed(done)).isSameAs(done);
        assertThat(scanner.doneSeen()).isTrue();
        first.release();
        done.release();

        SseUsageScanner observing = SseUsageScanner.observing();
        ByteBuf half = Unpooled.copiedBuffer("data: {\"choi", UTF_8);
        assertThat(observing.feed(half)).isSameAs(half);
        half.release();
    }

    @Test
    void usageChunkSpanningThreeChunksIsDroppedAndTheRestKept() {
        String before = HEAD;
        String stream = before + USAGE_EVENT + DONE;
        int start = before.getBytes(UTF_8).length;
        int usageLength = USAGE_EVENT.length();
        byte[] bytes = stream.getBytes(UTF_8);
        SseUsageScanner scanner = SseUsageScanner.droppingUsageChunk();
        List<ByteBuf> inputs = new ArrayList<>();
        List<String> forwarded = new ArrayList<>();
        for (byte[] c : split(bytes, start + 10, start + 60, start + usageLength + 3)) {
            ByteBuf in = Unpooled.directBuffer(c.length).writeBytes(c);
            inputs.add(in);
            forwarded.add(new String(readAndRelease(scanner.feed(in)), UTF_8));
        }
        forwarded.add(new String(readAndRelease(scanner.finish()), UTF_8));
        // Chunk 3 ends 3 bytes into the [DONE] event: those are held until chunk 4 completes it.
        assertThat(forwarded).containsExactly(before, "", "", DONE, "");
        assertThat(inputs).allSatisfy(b -> assertThat(b.refCnt()).isZero());
        assertThat(scanner.usage()).isEqualTo(new TokenUsage(17L, 42L));
    }

    @Test
    void anthropicUsageIsReadAndNothingDropped() {
        byte[] bytes = ANTHROPIC.getBytes(UTF_8);
        for (int cut = 0; cut <= bytes.length; cut++) {
            Run run = run(SseUsageScanner.droppingUsageChunk(), split(bytes, cut), PooledByteBufAllocator.DEFAULT);
            assertThat(run.output()).isEqualTo(ANTHROPIC);
            assertThat(run.usage()).isEqualTo(new TokenUsage(25L, 15L));
            assertThat(run.done()).isFalse();
            assertThat(run.dropped()).isZero();
        }
    }

    @Test
    void responsesApiUsageIsRead() {
        String stream = "event: response.completed\n"
                + "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"output\":[],"
                + "\"usage\":{\"input_tokens\":9,\"output_tokens\":4,\"total_tokens\":13}}}\n\n";
        Run run = run(SseUsageScanner.observing(), List.of(stream.getBytes(UTF_8)), PooledByteBufAllocator.DEFAULT);
        assertThat(run.usage()).isEqualTo(new TokenUsage(9L, 4L));
    }

    @Test
    void multiLineDataAndFieldVariants() {
        // Two data lines joined by a newline, "data:" without a space, an id line, a bare "data" line.
        String stream = "id: 7\ndata:{\"choices\":[],\n"
                + "data: \"usage\" : {\"prompt_tokens\":3,\"completion_tokens\":4}}\ndata\n\n" + DONE;
        Run run = run(SseUsageScanner.droppingUsageChunk(), List.of(stream.getBytes(UTF_8)), PooledByteBufAllocator.DEFAULT);
        assertThat(run.output()).isEqualTo(DONE);
        assertThat(run.usage()).isEqualTo(new TokenUsage(3L, 4L));
    }

    @Test
    void usageWithChoicesOrNullUsageIsNotDropped() {
        String withChoices = "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
        String nullUsage = "data: {\"choices\":[],\"usage\":null}\n\n";
        String notJson = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1\n\n";
        String stream = withChoices + nullUsage + notJson;
        Run run = run(SseUsageScanner.droppingUsageChunk(), List.of(stream.getBytes(UTF_8)), PooledByteBufAllocator.DEFAULT);
        assertThat(run.output()).isEqualTo(stream);
        assertThat(run.usage()).isEqualTo(new TokenUsage(1L, 2L));
        assertThat(run.dropped()).isZero();
    }

    @Test
    void oversizedEventIsForwardedUnread() {
        String big = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"pad\":\""
                + "x".repeat(200) + "\"}\n\n";
        String stream = big + DONE;
        byte[] bytes = stream.getBytes(UTF_8);
        for (int cut = 0; cut <= bytes.length; cut += 7) {
            Run run = run(SseUsageScanner.of(true, 128), split(bytes, cut), PooledByteBufAllocator.DEFAULT);
            assertThat(run.output()).isEqualTo(stream);
            assertThat(run.usage()).isEqualTo(TokenUsage.UNKNOWN);
            assertThat(run.done()).isTrue();
        }
    }

    @Test
    void emptyChunksPassAndTheEventBoundIsChecked() {
        SseUsageScanner scanner = SseUsageScanner.droppingUsageChunk();
        ByteBuf partial = Unpooled.copiedBuffer("data: {\"choices\":[],", UTF_8);
        assertThat(readAndRelease(scanner.feed(partial))).isEmpty();
        ByteBuf empty = Unpooled.buffer(0);
        assertThat(scanner.feed(empty)).isSameAs(empty);
        empty.release();
        ByteBuf rest = Unpooled.copiedBuffer("\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n", UTF_8);
        assertThat(readAndRelease(scanner.feed(rest))).isEmpty();
        assertThat(partial.refCnt()).isZero();
        assertThat(rest.refCnt()).isZero();
        assertThat(scanner.usage()).isEqualTo(new TokenUsage(1L, 2L));
        assertThat(scanner.droppedEvents()).isEqualTo(1);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SseUsageScanner.of(true, 10))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxEventBytes: 10 (expected: >= 64)");
    }

    @Test
    void eventStreamContentTypes() {
        assertThat(SseUsageScanner.isEventStream("text/event-stream")).isTrue();
        assertThat(SseUsageScanner.isEventStream("Text/Event-Stream; charset=utf-8")).isTrue();
        assertThat(SseUsageScanner.isEventStream("text/event-streamx")).isFalse();
        assertThat(SseUsageScanner.isEventStream("application/json")).isFalse();
        assertThat(SseUsageScanner.isEventStream(null)).isFalse();
    }

    @Test
    void closeReleasesHeldBytesAndFinishReturnsThem() {
        SseUsageScanner scanner = SseUsageScanner.droppingUsageChunk();
        ByteBuf partial = Unpooled.directBuffer().writeBytes("data: {\"choices\":[]".getBytes(UTF_8));
        ByteBuf out = scanner.feed(partial);
        assertThat(out.readableBytes()).isZero();
        assertThat(partial.refCnt()).as("held by the scanner").isEqualTo(1);
        scanner.close();
        assertThat(partial.refCnt()).isZero();

        SseUsageScanner finishing = SseUsageScanner.droppingUsageChunk();
        ByteBuf tail = Unpooled.copiedBuffer("data: {\"choices\":[]", UTF_8);
        readAndRelease(finishing.feed(tail));
        assertThat(new String(readAndRelease(finishing.finish()), UTF_8)).isEqualTo("data: {\"choices\":[]");
        assertThat(tail.refCnt()).isZero();
        // After the end, chunks pass through.
        ByteBuf late = Unpooled.copiedBuffer("x", UTF_8);
        assertThat(finishing.feed(late)).isSameAs(late);
        late.release();
    }
}
