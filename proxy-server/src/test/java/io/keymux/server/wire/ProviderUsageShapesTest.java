package io.keymux.server.wire;

import static io.keymux.server.testing.ProviderUsagePayloads.CACHED;
import static io.keymux.server.testing.ProviderUsagePayloads.COMPLETION;
import static io.keymux.server.testing.ProviderUsagePayloads.PROMPT;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.server.testing.ProviderUsagePayloads;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The usage of each provider's real answers, streamed (split at every byte and at random) and whole:
 * prompt tokens counting every input token, the cached ones apart, and the completion.
 */
class ProviderUsageShapesTest {

    private static final TokenUsage EXPECTED = new TokenUsage(PROMPT, COMPLETION, CACHED);

    /** Streams {@code stream} through a scanner in chunks cut at {@code cuts}; returns the usage and checks the bytes. */
    private static TokenUsage scan(SseUsageScanner scanner, byte[] stream, int... cuts) {
        StringBuilder out = new StringBuilder();
        int from = 0;
        int[] ends = Arrays.copyOf(cuts, cuts.length + 1);
        ends[cuts.length] = stream.length;
        for (int end : ends) {
            ByteBuf in = PooledByteBufAllocator.DEFAULT.buffer(end - from).writeBytes(stream, from, end - from);
            ByteBuf forwarded = scanner.feed(in);
            out.append(forwarded.toString(UTF_8));
            forwarded.release();
            assertThat(in.refCnt()).isZero();
            from = end;
        }
        ByteBuf rest = scanner.finish();
        out.append(rest.toString(UTF_8));
        rest.release();
        scanner.close();
        if (!scanner.dropsUsageChunk()) {
            assertThat(out.toString()).isEqualTo(new String(stream, UTF_8));
        }
        return scanner.usage();
    }

    private static void everySplit(List<String> events, TokenUsage expected) {
        byte[] bytes = String.join("", events).getBytes(UTF_8);
        for (int cut = 0; cut <= bytes.length; cut++) {
            assertThat(scan(SseUsageScanner.observing(), bytes, cut)).as("cut at %d", cut).isEqualTo(expected);
        }
        Random random = new Random(23);
        for (int round = 0; round < 200; round++) {
            int[] cuts = random.ints(6, 0, bytes.length + 1).sorted().toArray();
            assertThat(scan(SseUsageScanner.observing(), bytes, cuts)).as("cuts %s", Arrays.toString(cuts))
                    .isEqualTo(expected);
        }
    }

    @Test
    void chatStreamWithIncludeUsageReportsCachedPromptTokens() {
        everySplit(ProviderUsagePayloads.chatStream(), EXPECTED);
    }

    @Test
    void chatStreamUsageChunkIsDroppedAndItsCachedTokensStillCounted() {
        List<String> events = ProviderUsagePayloads.chatStream();
        byte[] bytes = String.join("", events).getBytes(UTF_8);
        String withoutUsage = String.join("", events.subList(0, 4)) + events.get(5);
        for (int cut = 0; cut <= bytes.length; cut += 7) {
            SseUsageScanner scanner = SseUsageScanner.droppingUsageChunk();
            StringBuilder out = new StringBuilder();
            for (byte[] part : List.of(Arrays.copyOfRange(bytes, 0, cut), Arrays.copyOfRange(bytes, cut, bytes.length))) {
                ByteBuf forwarded = scanner.feed(Unpooled.wrappedBuffer(part));
                out.append(forwarded.toString(UTF_8));
                forwarded.release();
            }
            out.append(scanner.finish().toString(UTF_8));
            assertThat(out.toString()).as("cut at %d", cut).isEqualTo(withoutUsage);
            assertThat(scanner.usage()).isEqualTo(EXPECTED);
            assertThat(scanner.droppedEvents()).isEqualTo(1);
        }
    }

    @Test
    void responsesStreamReadsUsageFromResponseCompletedOnly() {
        everySplit(ProviderUsagePayloads.responsesStream(), EXPECTED);
        // response.created and response.in_progress carry "usage":null: nothing is learned before the end.
        List<String> beforeCompleted = ProviderUsagePayloads.responsesStream().subList(0, 9);
        assertThat(scan(SseUsageScanner.observing(), String.join("", beforeCompleted).getBytes(UTF_8)))
                .isEqualTo(TokenUsage.UNKNOWN);
    }

    @Test
    void anthropicStreamAddsCacheReadsToInputTokensAndTakesOutputFromMessageDelta() {
        everySplit(ProviderUsagePayloads.anthropicStream(), EXPECTED);
        // After message_start alone: input 86 + cache reads 1920, output 1 so far.
        assertThat(scan(SseUsageScanner.observing(),
                ProviderUsagePayloads.anthropicStream().get(0).getBytes(UTF_8)))
                .isEqualTo(new TokenUsage(PROMPT, 1L, CACHED));
    }

    @Test
    void anthropicCacheWritesCountAsPromptButNotAsCached() {
        String start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
                + "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":12,"
                + "\"cache_creation_input_tokens\":2048,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n";
        String delta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                + "\"stop_sequence\":null},\"usage\":{\"output_tokens\":40}}\n\n";
        assertThat(scan(SseUsageScanner.observing(), (start + delta).getBytes(UTF_8)))
                .isEqualTo(new TokenUsage(2060L, 40L, 0));
        // A message_delta with cumulative input counters (as newer API versions send) replaces them.
        String cumulative = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                + "\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":48,\"cache_read_input_tokens\":2000,"
                + "\"output_tokens\":41}}\n\n";
        assertThat(scan(SseUsageScanner.observing(), (start + cumulative).getBytes(UTF_8)))
                .isEqualTo(new TokenUsage(2060L, 41L, 2000));
    }

    @Test
    void wholeBodiesOfEveryShape() {
        assertThat(JsonUsage.extract(ProviderUsagePayloads.chatBody().getBytes(UTF_8))).isEqualTo(EXPECTED);
        assertThat(JsonUsage.extract(ProviderUsagePayloads.responsesBody().getBytes(UTF_8))).isEqualTo(EXPECTED);
        assertThat(JsonUsage.extract(ProviderUsagePayloads.anthropicBody().getBytes(UTF_8))).isEqualTo(EXPECTED);
        TokenUsage embeddings = JsonUsage.extract(ProviderUsagePayloads.embeddingsBody().getBytes(UTF_8));
        assertThat(embeddings).isEqualTo(new TokenUsage(8L, null, 0));
        assertThat(embeddings.isComplete()).isFalse();
    }

    @Test
    void realtimeResponseDoneFrameAndTreeNode() throws Exception {
        String frame = ProviderUsagePayloads.realtimeResponseDone();
        assertThat(JsonUsage.extractEvent(frame.getBytes(UTF_8))).isEqualTo(EXPECTED);
        ByteBuf direct = Unpooled.directBuffer().writeBytes(frame.getBytes(UTF_8));
        assertThat(JsonUsage.extractEvent(direct)).isEqualTo(EXPECTED);
        assertThat(direct.readerIndex()).isZero();
        direct.release();
        var tree = new ObjectMapper().readTree(frame);
        assertThat(JsonUsage.ofUsageNode(tree.path("response").path("usage"))).isEqualTo(EXPECTED);
        assertThat(JsonUsage.ofUsageNode(tree.path("missing"))).isEqualTo(TokenUsage.UNKNOWN);
        // Other Realtime events carry no usage.
        assertThat(JsonUsage.extractEvent("{\"type\":\"response.created\",\"response\":{\"usage\":null}}"
                .getBytes(UTF_8))).isEqualTo(TokenUsage.UNKNOWN);
        assertThat(JsonUsage.extractEvent("not json".getBytes(UTF_8))).isEqualTo(TokenUsage.UNKNOWN);
    }

    @Test
    void nonsenseCountsAreNotBelieved() {
        // A cached count above the prompt is capped at the prompt; negative counts are ignored.
        assertThat(JsonUsage.extract("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":50}}}"
                .getBytes(UTF_8))).isEqualTo(new TokenUsage(10L, 2L, 10));
        assertThat(JsonUsage.extract("{\"usage\":{\"prompt_tokens\":-4,\"completion_tokens\":2}}".getBytes(UTF_8)))
                .isEqualTo(new TokenUsage(null, 2L, 0));
        assertThat(JsonUsage.extract("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"prompt_tokens_details\":null}}"
                .getBytes(UTF_8))).isEqualTo(new TokenUsage(10L, 2L, 0));
    }
}
