package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.server.pipeline.UsageTap;
import io.keymux.server.wire.TokenUsage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Usage read from answers as they pass, and the reference each feed hands back. */
class UsageTapTest {

    private static ByteBuf buf(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    /** Every buffer fed in; all must be released once their taps are closed. */
    private final List<ByteBuf> fed = new ArrayList<>();

    @AfterEach
    void everyBufferReleased() {
        assertThat(fed).allSatisfy(b -> assertThat(b.refCnt()).isZero());
    }

    /** Feeds every part and returns what the client would get; every returned buffer is released. */
    private String pass(UsageTap tap, String... parts) {
        StringBuilder out = new StringBuilder();
        for (String part : parts) {
            ByteBuf in = buf(part);
            fed.add(in);
            ByteBuf sent = tap.feed(in);
            out.append(sent.toString(StandardCharsets.UTF_8));
            sent.release();
        }
        ByteBuf rest = tap.finish();
        out.append(rest.toString(StandardCharsets.UTF_8));
        rest.release();
        return out.toString();
    }

    @Test
    void jsonAnswerSplitAnywhereGivesItsUsage() {
        try (UsageTap tap = UsageTap.of("application/json; charset=utf-8", null, false)) {
            String out = pass(tap, "{\"id\":1,\"usage\":{\"prompt_", "tokens\":5,\"completion_tokens\":3}}");
            assertThat(out).isEqualTo("{\"id\":1,\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}");
            assertThat(tap.usage()).isEqualTo(new TokenUsage(5L, 3L));
            assertThat(tap.changesLength()).isFalse();
        }
    }

    @Test
    void compressedAnswerIsNotRead() {
        try (UsageTap tap = UsageTap.of("application/json", "gzip", false)) {
            pass(tap, "{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}");
            assertThat(tap.usage()).isEqualTo(TokenUsage.UNKNOWN);
        }
    }

    @Test
    void eventStreamDropsTheUsageChunkKeymuxAskedForAndKeepsItsCounts() {
        String usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7}}\n\n";
        String token = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
        try (UsageTap tap = UsageTap.of("text/event-stream", null, true)) {
            String out = pass(tap, token, usage.substring(0, 20), usage.substring(20), "data: [DONE]\n\n");
            assertThat(out).isEqualTo(token + "data: [DONE]\n\n");
            assertThat(tap.usage()).isEqualTo(new TokenUsage(11L, 7L));
            assertThat(tap.changesLength()).isTrue();
        }
        try (UsageTap tap = UsageTap.of("text/event-stream", null, false)) {
            assertThat(pass(tap, token, usage)).isEqualTo(token + usage);
            assertThat(tap.usage()).isEqualTo(new TokenUsage(11L, 7L));
        }
    }

    @Test
    void otherBodiesPassUntouchedWithUnknownUsage() {
        try (UsageTap tap = UsageTap.of("audio/mpeg", null, true)) {
            assertThat(pass(tap, "ID3...")).isEqualTo("ID3...");
            assertThat(tap.usage()).isEqualTo(TokenUsage.UNKNOWN);
        }
    }
}
