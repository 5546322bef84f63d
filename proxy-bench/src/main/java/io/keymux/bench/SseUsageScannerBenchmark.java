package io.keymux.bench;

import io.keymux.server.wire.SseUsageScanner;
import io.keymux.server.wire.TokenUsage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The SSE usage scanner's cost for one whole streamed answer, fed as the network delivers it
 * (chunks of {@code chunkBytes}, cut anywhere): 100 content events and the usage the provider
 * reports, in each provider's shape (OpenAI chat with {@code include_usage}, the Responses API,
 * Anthropic messages), observing or dropping the injected usage-only chunk. The time is per stream;
 * the bytes are unpooled heap buffers retained before each feed, so no allocation of the input counts.
 *
 * <p>Run:
 *
 * <pre>
 * ./mvnw -B -o -q -pl proxy-bench -am -DskipTests package
 * java -jar proxy-bench/target/benchmarks.jar SseUsageScannerBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SseUsageScannerBenchmark {

    @Param({"chat", "responses", "anthropic"})
    public String shape;

    @Param({"false", "true"})
    public boolean drop;

    @Param({"1460"})
    public int chunkBytes;

    private final List<ByteBuf> chunks = new ArrayList<>();

    @Setup
    public void setUp() {
        byte[] stream = stream(shape).getBytes(StandardCharsets.UTF_8);
        for (int at = 0; at < stream.length; at += chunkBytes) {
            int n = Math.min(chunkBytes, stream.length - at);
            chunks.add(Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(stream, at, n)));
        }
    }

    /** One stream through a fresh scanner; returns the usage so nothing is optimised away. */
    @Benchmark
    public TokenUsage scanStream() {
        SseUsageScanner scanner = drop ? SseUsageScanner.droppingUsageChunk() : SseUsageScanner.observing();
        for (ByteBuf chunk : chunks) {
            ByteBuf out = scanner.feed(chunk.duplicate());
            out.release();
        }
        scanner.finish().release();
        scanner.close();
        return scanner.usage();
    }

    static String stream(String shape) {
        StringBuilder sb = new StringBuilder();
        switch (shape) {
            case "chat" -> {
                for (int i = 0; i < 100; i++) {
                    sb.append("data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\","
                            + "\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\","
                            + "\"system_fingerprint\":\"fp_f9f4fb6dbf\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word")
                            .append(i).append(" \"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
                }
                sb.append("data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\","
                        + "\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,"
                        + "\"completion_tokens\":300,\"total_tokens\":2306,\"prompt_tokens_details\":{\"cached_tokens\":1920,"
                        + "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                        + "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\ndata: [DONE]\n\n");
            }
            case "responses" -> {
                sb.append("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":"
                        + "{\"id\":\"resp_67c9fdcecf488190bdd9a0a5\",\"object\":\"response\",\"status\":\"in_progress\","
                        + "\"model\":\"gpt-4o-2024-08-06\",\"output\":[],\"usage\":null}}\n\n");
                for (int i = 0; i < 100; i++) {
                    sb.append("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
                            + "\"sequence_number\":").append(i + 1).append(",\"item_id\":\"msg_67c9fdcf37fc8190ba82116e\","
                            + "\"output_index\":0,\"content_index\":0,\"delta\":\"word").append(i).append(" \"}\n\n");
                }
                sb.append("event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":102,"
                        + "\"response\":{\"id\":\"resp_67c9fdcecf488190bdd9a0a5\",\"object\":\"response\",\"status\":\"completed\","
                        + "\"model\":\"gpt-4o-2024-08-06\",\"output\":[{\"id\":\"msg_67c9fdcf37fc8190ba82116e\",\"type\":\"message\","
                        + "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"...\","
                        + "\"annotations\":[]}]}],\"usage\":{\"input_tokens\":2006,\"input_tokens_details\":{\"cached_tokens\":1920},"
                        + "\"output_tokens\":300,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":2306}}}\n\n");
            }
            case "anthropic" -> {
                sb.append("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
                        + "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,"
                        + "\"stop_sequence\":null,\"usage\":{\"input_tokens\":86,\"cache_creation_input_tokens\":0,"
                        + "\"cache_read_input_tokens\":1920,\"output_tokens\":1}}}\n\n"
                        + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                        + "{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n");
                for (int i = 0; i < 100; i++) {
                    sb.append("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                            + "{\"type\":\"text_delta\",\"text\":\"word").append(i).append(" \"}}\n\n");
                }
                sb.append("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                        + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                        + "\"stop_sequence\":null},\"usage\":{\"output_tokens\":300}}\n\n"
                        + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
            }
            default -> throw new IllegalArgumentException("shape: " + shape + " (expected: chat, responses, anthropic)");
        }
        return sb.toString();
    }
}
