package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class JsonUsageScannerTest {

    private static JsonUsageScanner scan(String json, int chunkSize) {
        JsonUsageScanner scanner = new JsonUsageScanner();
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i += chunkSize) {
            ByteBuf chunk = Unpooled.wrappedBuffer(bytes, i, Math.min(chunkSize, bytes.length - i));
            scanner.feed(chunk);
            chunk.release();
        }
        return scanner;
    }

    @Test
    void findsTopLevelUsageAcrossArbitraryChunkBoundaries() {
        String json = "{\"choices\":[{\"usage\":{\"prompt_tokens\":999}}],\"usage\":{\"prompt_tokens\":12,"
                + "\"completion_tokens\":34,\"total_tokens\":46,\"details\":{\"prompt_tokens\":7}}}";
        for (int size : new int[] {1, 3, 7, json.length()}) {
            JsonUsageScanner s = scan(json, size);
            assertThat(s.usageKnown()).as("chunk size %d", size).isTrue();
            assertThat(s.promptTokens()).isEqualTo(12);
            assertThat(s.completionTokens()).isEqualTo(34);
        }
    }

    @Test
    void noUsageOrNotJsonIsUnknown() {
        assertThat(scan("{\"id\":\"x\"}", 4).usageKnown()).isFalse();
        assertThat(scan("data: {}\n\n", 4).usageKnown()).isFalse();
    }
}
