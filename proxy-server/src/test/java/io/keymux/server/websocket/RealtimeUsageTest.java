package io.keymux.server.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link RealtimeUsage}: the usage of {@code response.done} events, nothing from any other event. */
class RealtimeUsageTest {

    private static ByteBuf text(String json) {
        return Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
    }

    @Test
    void responseDoneGivesInputOutputAndCachedTokens() {
        ByteBuf event = text("{\"type\":\"response.done\",\"event_id\":\"e1\",\"response\":{\"id\":\"resp_1\",\"usage\":"
                + RealtimeStub.USAGE + "}}");
        int before = event.readerIndex();
        assertThat(RealtimeUsage.of(event)).isEqualTo(new RealtimeUsage(120, 40, 64));
        assertThat(event.readerIndex()).isEqualTo(before);
        assertThat(event.refCnt()).isEqualTo(1);
        event.release();
    }

    @Test
    void missingCachedDetailsCountAsZero() {
        ByteBuf event = text("{\"type\":\"response.done\",\"response\":{\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}}");
        assertThat(RealtimeUsage.of(event)).isEqualTo(new RealtimeUsage(7, 3, 0));
        event.release();
    }

    @Test
    void otherEventsAndBrokenJsonGiveNothing() {
        for (String json : new String[] {
            "{\"type\":\"response.audio.delta\",\"delta\":\"response.done\"}",
            "{\"type\":\"response.created\",\"response\":{\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}",
            "{\"type\":\"response.done\",\"response\":{\"status\":\"cancelled\",\"usage\":null}}",
            "{\"type\":\"response.done\",",
            "not json \"response.done\""}) {
            ByteBuf event = text(json);
            assertThat(RealtimeUsage.of(event)).as(json).isNull();
            event.release();
        }
    }
}
