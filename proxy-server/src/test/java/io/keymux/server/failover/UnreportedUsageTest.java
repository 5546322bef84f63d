package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyStatus;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.keymux.server.testing.UpstreamStub;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A 2xx answer whose usage never reaches keymux is charged an estimate (prompt estimate, one
 * completion token per 4 relayed body bytes, at most {@code max_tokens}) instead of nothing: a
 * client that closes a stream after the content and before the usage event cannot spend a key's
 * budget for free, and neither goes a compressed answer uncharged.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UnreportedUsageTest extends FailoverTestBase {
    private static final double COST_PER_TOKEN = 0.001;

    private void startWithPricedKey() {
        start(setup().key(ApiKeyConfig.builder("k1", Secret.of(TestConfigs.POOL_KEY_1)).upstream("stub")
                .taskTypes("chat").costPerToken(COST_PER_TOKEN)).build());
    }

    @Test
    void aClientThatClosesTheStreamBeforeTheUsageEventIsStillCharged() throws IOException {
        startWithPricedKey();
        // The content, then (as a provider does) the usage chunk only later: the client is gone by then.
        stub.enqueue(Reply.sse(Flux.concat(Flux.range(0, 5).map(i -> UpstreamStub.chunkEvent("t" + i)),
                Mono.never())));
        String body = "{\"model\":\"gpt-4o\",\"stream\":true,\"max_tokens\":1000,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        try (Socket socket = new Socket("127.0.0.1", keymux.proxyPort())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: keymux\r\nAuthorization: Bearer "
                    + TestConfigs.CLIENT_KEY + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            readUntil(socket.getInputStream(), "\"content\":\"t4\"");
        } // closed after the content, before any usage

        KeyStatus charged = awaitCharged("k1");
        assertThat(charged.promptTokens()).as("the prompt estimate").isPositive();
        assertThat(charged.completionTokens()).as("from the relayed bytes").isPositive().isLessThanOrEqualTo(1000);
        assertThat(charged.totalCost()).isEqualTo(
                (charged.promptTokens() + charged.completionTokens()) * COST_PER_TOKEN, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(charged.spendToday()).isPositive();
    }

    @Test
    void aCompressedAnswerWhoseUsageCannotBeReadIsChargedFromItsBytes() throws IOException {
        startWithPricedKey();
        byte[] gzipped = gzip(UpstreamStub.CHAT_COMPLETION);
        stub.enqueue(new Reply(200, Map.of("content-type", "application/json", "content-encoding", "gzip"),
                Flux.just(new String(gzipped, StandardCharsets.ISO_8859_1))));

        // The stub sends the string as UTF-8: the bytes relayed are that encoding's length.
        long relayed = new String(gzipped, StandardCharsets.ISO_8859_1).getBytes(StandardCharsets.UTF_8).length;
        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"), "Accept-Encoding", "gzip");
        assertThat(answer.status()).isEqualTo(200);

        KeyStatus charged = awaitCharged("k1");
        assertThat(charged.promptTokens()).isPositive();
        assertThat(charged.completionTokens()).isEqualTo((relayed + 3) / 4);
        assertThat(charged.totalCost()).isPositive();
    }

    private KeyStatus awaitCharged(String keyId) {
        // Tokens and cost are two counters, added one after the other: wait for both, or a read in
        // between sees the tokens with no cost yet.
        KeyStatus reached = Flux.interval(Duration.ofMillis(10)).map(i -> state(keyId))
                .filter(k -> k.completionTokens() > 0 && k.totalCost() > 0).next().block(Duration.ofSeconds(10));
        assertThat(reached).as("the key was charged tokens and their cost").isNotNull();
        return reached;
    }

    private static void readUntil(InputStream in, String marker) throws IOException {
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) > 0) {
            seen.write(buf, 0, n);
            if (seen.toString(StandardCharsets.UTF_8).contains(marker)) {
                return;
            }
        }
        throw new AssertionError("the stream ended before " + marker);
    }

    private static byte[] gzip(String text) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return bytes.toByteArray();
    }
}
