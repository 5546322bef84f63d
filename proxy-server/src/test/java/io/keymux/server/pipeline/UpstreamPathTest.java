package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.Await;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.server.HttpServer;

/**
 * The upstream side of the path (plain Netty connections, {@code UpstreamConnection}): a client
 * that stops reading stops keymux reading the upstream, so nothing piles up in keymux; an
 * {@code https} upstream whose certificate is not trusted is refused.
 */
class UpstreamPathTest extends KeymuxTestBase {
    private static final int CHUNK_BYTES = 16 * 1024;
    private static final int CHUNKS = 6 * 1024; // 96 MiB in all

    @Test
    void aClientThatStopsReadingStopsTheUpstreamReadAndThenGetsEveryByte() throws Exception {
        AtomicInteger produced = new AtomicInteger();
        String chunk = "x".repeat(CHUNK_BYTES);
        stub.enqueue(new Reply(200, Map.of("content-type", "application/octet-stream"),
                Flux.range(0, CHUNKS).map(i -> chunk).doOnNext(c -> produced.incrementAndGet())));
        startKeymux(config().build());
        String body = chatBody("gpt-4o");
        try (Socket socket = new Socket()) {
            socket.setReceiveBufferSize(64 * 1024);
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", keymux.proxyPort()));
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: keymux\r\nAuthorization: Bearer "
                    + TestConfigs.CLIENT_KEY + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 200");

            // The client reads nothing more: the upstream's producer must come to a stop well short
            // of the whole answer (socket buffers hold some megabytes; keymux must not hold the rest).
            int stalledAt = awaitQuiet(produced);
            assertThat(stalledAt).as("chunks the upstream produced while the client read nothing")
                    .isLessThan(CHUNKS / 2);

            long received = drainBody(in, head);
            assertThat(received).as("every byte arrives once the client reads").isEqualTo((long) CHUNKS * CHUNK_BYTES);
            assertThat(produced.get()).isEqualTo(CHUNKS);
        }
    }

    @Test
    void anHttpsUpstreamWithAnUntrustedCertificateIsRefused() throws Exception {
        SelfSignedCertificate certificate = new SelfSignedCertificate("localhost");
        AtomicLong served = new AtomicLong();
        DisposableServer untrusted = HttpServer.create().host("127.0.0.1").port(0)
                .secure(spec -> spec.sslContext(Http11SslContextSpec.forServer(certificate.certificate(),
                        certificate.privateKey())))
                .handle((req, res) -> {
                    served.incrementAndGet();
                    return res.sendString(Mono.just("{}"));
                })
                .bindNow();
        try {
            startKeymux(config().upstream(TestConfigs.UPSTREAM, URI.create("https://localhost:" + untrusted.port()),
                    AuthStyle.BEARER).build());
            Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));
            assertThat(answer.status()).isEqualTo(502);
            assertThat(answer.body()).contains("upstream_unavailable")
                    .doesNotContain(TestConfigs.POOL_KEY_1).doesNotContain(TestConfigs.POOL_KEY_2);
            assertThat(served.get()).as("no request got past the TLS handshake").isZero();
        } finally {
            untrusted.disposeNow();
            certificate.delete();
        }
    }

    /** Waits (bounded, 20 s) until the count has not moved for half a second: the producer is blocked. */
    private static int awaitQuiet(AtomicInteger count) {
        long quietNanos = Duration.ofMillis(500).toNanos();
        int[] last = {-1};
        long[] movedAt = {System.nanoTime()};
        Await.until(() -> "the upstream's producer to stop (at " + count.get() + " chunks)", () -> {
            int now = count.get();
            long at = System.nanoTime();
            if (now != last[0]) {
                last[0] = now;
                movedAt[0] = at;
                return false;
            }
            return now > 0 && at - movedAt[0] >= quietNanos;
        }, Duration.ofSeconds(20));
        return last[0];
    }

    private static String readHead(InputStream in) throws java.io.IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            byte[] so = head.toByteArray();
            int n = so.length;
            if (n >= 4 && so[n - 4] == '\r' && so[n - 3] == '\n' && so[n - 2] == '\r' && so[n - 1] == '\n') {
                break;
            }
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    /** Reads a chunked or length-delimited body to its end and counts its payload bytes. */
    private static long drainBody(InputStream in, String head) throws java.io.IOException {
        String lower = head.toLowerCase(java.util.Locale.ROOT);
        if (!lower.contains("transfer-encoding: chunked")) {
            int at = lower.indexOf("content-length:");
            long length = Long.parseLong(lower.substring(at + 15, lower.indexOf('\r', at)).trim());
            return in.readNBytes((int) length).length;
        }
        long total = 0;
        while (true) {
            String size = readLine(in);
            long n = Long.parseLong(size.trim(), 16);
            if (n == 0) {
                readLine(in);
                return total;
            }
            total += in.readNBytes((int) n).length;
            readLine(in);
        }
    }

    private static String readLine(InputStream in) throws java.io.IOException {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (b != '\r') {
                line.append((char) b);
            }
        }
        return line.toString();
    }
}
