package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Many concurrent SSE streams through keymux arrive byte-identical. */
class ConcurrentStreamsTest extends KeymuxTestBase {
    private static final int STREAMS = 500;
    private static final int CHUNKS = 20;

    private static String chunk(String stream, int i) {
        return "data: {\"stream\":\"" + stream + "\",\"i\":" + i + ",\"pad\":\"" + "x".repeat(i * 7) + "\"}\n\n";
    }

    private static String expected(String stream) {
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < CHUNKS; i++) {
            all.append(chunk(stream, i));
        }
        return all.toString();
    }

    @Test
    void fiveHundredConcurrentStreamsCompleteByteIdentical() {
        startKeymux(config().build());
        stub.defaultReply(r -> {
            String id = r.headers().get("X-Stream");
            return Reply.sse(Flux.range(0, CHUNKS).delayElements(Duration.ofMillis(2)).map(i -> chunk(id, i)));
        });
        List<Map.Entry<String, String>> results = Flux.range(0, STREAMS)
                .flatMap(n -> client()
                        .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                                .set("X-Stream", "s" + n))
                        .post().uri("/v1/chat/completions")
                        .send(Mono.just(Unpooled.copiedBuffer(chatBody("m"), StandardCharsets.UTF_8)))
                        .responseSingle((res, body) -> body.asString(StandardCharsets.UTF_8))
                        .map(body -> Map.entry("s" + n, body)), STREAMS)
                .collectList()
                .block(Duration.ofSeconds(60));

        assertThat(results).hasSize(STREAMS);
        for (Map.Entry<String, String> result : results) {
            assertThat(result.getValue()).as(result.getKey()).isEqualTo(expected(result.getKey()));
        }
        assertThat(stub.recorded()).hasSize(STREAMS);
    }
}
