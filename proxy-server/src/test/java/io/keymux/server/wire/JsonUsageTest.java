package io.keymux.server.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonUsageTest {

    @Test
    void openAiUsage() {
        String body = "{\"id\":\"c1\",\"choices\":[{\"message\":{\"content\":\"{\\\"usage\\\":1}\"}}],"
                + "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,\"total_tokens\":46,"
                + "\"prompt_tokens_details\":{\"cached_tokens\":0}}}";
        ByteBuf buf = Unpooled.directBuffer().writeBytes(body.getBytes(UTF_8));
        buf.readerIndex(0);
        assertThat(JsonUsage.extract(buf)).isEqualTo(new TokenUsage(12L, 34L));
        assertThat(buf.readerIndex()).isZero();
        assertThat(buf.refCnt()).isEqualTo(1);
        buf.release();
    }

    @Test
    void anthropicUsage() {
        String body = "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],"
                + "\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":3,\"output_tokens\":7}}";
        TokenUsage usage = JsonUsage.extract(body.getBytes(UTF_8));
        // Anthropic's input_tokens leaves the cache reads out; keymux's prompt counts them in.
        assertThat(usage).isEqualTo(new TokenUsage(28L, 7L, 3));
        assertThat(usage.isComplete()).isTrue();
    }

    @Test
    void partialUsage() {
        TokenUsage usage = JsonUsage.extract("{\"usage\":{\"prompt_tokens\":5}}".getBytes(UTF_8));
        assertThat(usage).isEqualTo(new TokenUsage(5L, null));
        assertThat(usage.isComplete()).isFalse();
        assertThat(usage.isUnknown()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"usage\":{\"prompt_tokens\":5", "{\"usage\":null}", "{\"a\":1}",
            "{\"choices\":[{\"usage\":{\"prompt_tokens\":1}}]}", "[]", "{\"usage\":{\"prompt_tokens\":1}}{}",
            "<html>502</html>"})
    void unknownUsage(String body) {
        assertThat(JsonUsage.extract(body.getBytes(UTF_8))).isEqualTo(TokenUsage.UNKNOWN);
        ByteBuf buf = Unpooled.copiedBuffer(body, UTF_8);
        assertThat(JsonUsage.extract(buf)).isEqualTo(TokenUsage.UNKNOWN);
        buf.release();
    }
}
