package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.keymux.server.testing.UpstreamStub;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpServer;

/**
 * An upstream that answers a plain request with {@code 101 Switching Protocols} (nothing asked it to
 * switch) has given a broken answer: the client never sees the 101 or the bytes after it; the
 * request fails over to another key, or gets a 502 when there is none.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UpstreamSwitchingProtocolsTest extends FailoverTestBase {
    private final AtomicInteger switched = new AtomicInteger();
    private DisposableServer switcher;

    /** A raw TCP upstream: a 101 and then non-HTTP bytes to whatever request it reads. */
    private URI startSwitcher() {
        switcher = TcpServer.create().host("127.0.0.1").port(0)
                .handle((in, out) -> in.receive().next().flatMap(request -> {
                    switched.incrementAndGet();
                    return out.sendString(Mono.just("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            + "Connection: Upgrade\r\n\r\n\u0081\u0005hello")).then();
                }).then(Mono.never()))
                .bindNow();
        return URI.create("http://127.0.0.1:" + switcher.port());
    }

    @AfterEach
    void stopSwitcher() {
        if (switcher != null) {
            switcher.disposeNow();
        }
    }

    @Test
    void aPlainRequestAnswered101FailsOverToTheNextKey() {
        start(setup().upstream("switcher", startSwitcher(), AuthStyle.BEARER)
                .key(chatKey("k1", TestConfigs.POOL_KEY_1, "switcher", 2))
                .key(chatKey("k2", TestConfigs.POOL_KEY_2, "stub", 1)).build());
        stub.enqueue(Reply.json(200, UpstreamStub.CHAT_COMPLETION));

        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));

        assertThat(switched).hasValue(1);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.headers().get("X-Keymux-Key-Id")).isEqualTo("k2");
        assertThat(answer.headers().get("X-Keymux-Attempts")).isEqualTo("2");
    }

    @Test
    void aPlainRequestAnswered101WithNoOtherKeyIs502() {
        start(setup().task(TestConfigs.TASK, t -> t.maxAttempts(1))
                .upstream("switcher", startSwitcher(), AuthStyle.BEARER)
                .key(chatKey("k1", TestConfigs.POOL_KEY_1, "switcher", 2)).build());

        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));

        assertThat(switched).hasValue(1);
        assertThat(answer.status()).isEqualTo(502);
        assertThat(answer.body()).contains("\"code\":\"upstream_unavailable\"").doesNotContain("hello");
    }
}
