package io.keymux.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/**
 * A request that joined an identical one in flight may hold only so much of the answer its client
 * has not read ({@link CoalescedAnswer#MAX_HELD_BYTES}): a stream it already sent ends with an error
 * event, and an answer it has not sent yet is fetched by itself instead. The leader and the others
 * never wait for a slow reader.
 */
class SlowJoinerTest extends CacheTestBase {
    private static final String BIG = "x".repeat(16 * 1024);
    /** Five times the bound: far past what the socket buffers between keymux and the test can hold. */
    private static final int PIECES = 5 * CoalescedAnswer.MAX_HELD_BYTES / BIG.length();

    int waiting() {
        return keymux.responseCache().store().waiting();
    }

    @Test
    void aJoinedStreamWhoseClientReadsNothingIsEndedWithAnErrorEventWhileTheLeaderGetsItAll() throws Exception {
        start("");
        Sinks.Empty<Void> go = Sinks.empty();
        String event = "data: {\"pad\":\"" + BIG + "\"}\n\n";
        // Paced at about 8 MB/s, as fast as a test client reads on a busy machine and thousands of
        // times an LLM's pace: the leader's client keeps up (it falls behind only in a stall of a
        // second), the slow joiner, reading nothing, is 8 MiB behind within a second.
        stub.defaultReply(r -> Reply.sse(Flux.concat(Flux.just(UpstreamStub.chunkEvent("first")),
                go.asMono().thenMany(Flux.range(0, PIECES).delayElements(Duration.ofMillis(2)).map(i -> event)),
                Flux.just("data: [DONE]\n\n"))));
        CompletableFuture<Answer> leader = CompletableFuture.supplyAsync(() -> chat("chat", STREAM_BODY));
        await("the leader at the upstream", () -> atStub() == 1);

        try (Socket slow = new Socket()) {
            slow.setReceiveBufferSize(32 * 1024);
            slow.connect(new InetSocketAddress("127.0.0.1", keymux.proxyPort()));
            slow.setSoTimeout(20_000);
            send(slow, STREAM_BODY);
            await("the slow waiter joined", () -> waiting() == 1);
            go.tryEmitEmpty();

            Answer led = leader.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(led.body()).endsWith("data: [DONE]\n\n").hasSizeGreaterThan(PIECES * BIG.length());

            String got = readAll(slow.getInputStream());
            assertThat(got).contains("X-Keymux-Cache: coalesced")
                    .contains("\"code\":\"upstream_unavailable\"").contains("read too slowly")
                    .doesNotContain("data: [DONE]");
            assertThat(got.length()).isLessThan(PIECES * BIG.length());
        }
        assertThat(atStub()).isEqualTo(1);
    }

    @Test
    void aWaiterForAWholeAnswerLargerThanTheBoundFetchesItByItself() throws Exception {
        start("");
        Sinks.Empty<Void> go = Sinks.empty();
        int pieces = CoalescedAnswer.MAX_HELD_BYTES / BIG.length() + 64;
        stub.defaultReply(r -> new Reply(200, Map.of("content-type", "application/json"), Flux.concat(
                Flux.just("{\"pad\":["), go.asMono().thenMany(Flux.range(0, pieces).map(i -> "\"" + BIG + "\",")),
                Flux.just("0]}"))));
        CompletableFuture<Answer> leader = CompletableFuture.supplyAsync(() -> chat("chat", BODY));
        await("the leader at the upstream", () -> atStub() == 1);
        CompletableFuture<Answer> waiter = CompletableFuture.supplyAsync(() -> chat("chat", BODY));
        await("the waiter joined", () -> waiting() == 1);
        go.tryEmitEmpty();

        Answer led = leader.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        Answer alone = waiter.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(led.status()).isEqualTo(200);
        assertThat(alone.status()).isEqualTo(200);
        assertThat(alone.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(alone.body()).isEqualTo(led.body());
        assertThat(atStub()).isEqualTo(2);
    }

    private static void send(Socket socket, String body) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(("POST " + CHAT + " HTTP/1.1\r\nHost: keymux\r\nAuthorization: Bearer " + APP_KEY
                + "\r\nX-Task-Type: chat\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Everything until the server closes (a let-go stream closes its connection). */
    private static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        int n;
        while ((n = in.read(buf)) > 0) {
            all.write(buf, 0, n);
        }
        return all.toString(StandardCharsets.ISO_8859_1);
    }
}
