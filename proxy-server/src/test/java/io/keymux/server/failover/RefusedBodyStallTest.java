package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.Timeouts;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * A refused answer (a 500 the task retries) is decided at its head: the request fails over at once
 * even when the refused body stalls, and that body is drained behind it, bounded by one idle
 * timeout (issue 25 item 5). The idle timeout here is a minute, longer than the test client waits:
 * a failover that waited for the stalled body would not answer in time.
 */
class RefusedBodyStallTest extends FailoverTestBase {

    @Test
    void aRefused500WhoseBodyStallsFailsOverWithoutWaitingForIt() {
        Setup s = setup().twoKeys();
        s.timeouts = new Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(60));
        start(s.build());
        stub.defaultReply(r -> keyOf(r).equals("k1")
                ? new Reply(500, Map.of("content-type", "application/json"),
                        Flux.just("{\"error\":{\"message\":\"The server had an error").concatWith(Flux.never()))
                        .headersFirst()
                : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.headers().get("X-Keymux-Attempts")).isEqualTo("2");
        assertThat(keysSeen()).containsExactly("k1", "k2");
    }
}
