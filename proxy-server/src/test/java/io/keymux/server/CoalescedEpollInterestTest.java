package io.keymux.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.epoll.Epoll;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.DisposableServer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * keymux's epoll loops ({@link EpollLoops}, {@link CoalescedEpollInterest}) under Reactor Netty's
 * HTTP server, which turns auto-read off and on around every request: the toggle no longer reaches
 * the kernel, and what auto-read is for (a slow reader holding the body back, pipelined requests
 * waiting their turn) still works.
 */
class CoalescedEpollInterestTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private LoopResources loops;
    private DisposableServer server;

    @BeforeEach
    void start() {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll runs here");
        loops = EpollLoops.create("coalesce-test", 1);
        // POST: the CRC32 and length of the body, read one chunk at a time with a pause after each
        // when the path is /slow (so the body waits in the socket, auto-read off, across many
        // loop iterations); GET: a short text.
        server = HttpServer.create().runOn(loops, true).host("127.0.0.1").port(0)
                .handle((req, res) -> {
                    if (req.method().name().equals("GET")) {
                        return res.header("content-length", "2").sendString(Mono.just("ok"));
                    }
                    Flux<byte[]> chunks = req.receive().asByteArray();
                    if (req.uri().equals("/slow")) {
                        chunks = chunks.limitRate(1).delayElements(Duration.ofMillis(1));
                    }
                    Mono<String> digest = chunks.reduce(new Digest(), Digest::add).map(Digest::toString);
                    return res.sendString(digest);
                })
                .bindNow();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.disposeNow();
        }
        if (loops != null) {
            loops.disposeLater().block(TIMEOUT);
        }
    }

    @Test
    void keepAliveRequestsCostNoInterestChangeEach() {
        int requests = 200;
        ConnectionProvider one = ConnectionProvider.create("coalesce-test-client", 1);
        try {
            HttpClient client = HttpClient.create(one).host("127.0.0.1").port(server.port());
            post(client, "/", "warm".getBytes(StandardCharsets.UTF_8)); // the connection's registration
            long before = CoalescedEpollInterest.appliedChanges();
            for (int i = 0; i < requests; i++) {
                byte[] body = ("{\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8);
                assertThat(post(client, "/", body)).isEqualTo(new Digest().add(body).toString());
            }
            long applied = CoalescedEpollInterest.appliedChanges() - before;
            // Netty alone: two epoll_ctl per request (auto-read off, then on), 400 here.
            assertThat(applied).as("interest changes that reached the kernel for %d requests", requests)
                    .isLessThan(requests / 10);
        } finally {
            one.disposeLater().block(TIMEOUT);
        }
    }

    @Test
    void aSlowReaderStillGetsTheWholeBodyInOrder() {
        byte[] body = new byte[4 * 1024 * 1024];
        new Random(26).nextBytes(body);
        HttpClient client = HttpClient.create().host("127.0.0.1").port(server.port());
        long before = CoalescedEpollInterest.appliedChanges();
        assertThat(post(client, "/slow", body)).isEqualTo(new Digest().add(body).toString());
        // Reading stopped and started again while the body waited: those changes did reach the kernel.
        assertThat(CoalescedEpollInterest.appliedChanges() - before).isPositive();
    }

    @Test
    void pipelinedRequestsAreEachAnswered() throws IOException {
        String one = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout((int) TIMEOUT.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write((one + one + one).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder seen = new StringBuilder();
            byte[] buf = new byte[4096];
            while (count(seen, "\r\n\r\nok") < 3) {
                int n = in.read(buf);
                assertThat(n).as("the connection stayed open until three answers came").isPositive();
                seen.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
            }
            assertThat(count(seen, "HTTP/1.1 200 OK")).isEqualTo(3);
        }
    }

    private static String post(HttpClient client, String path, byte[] body) {
        // Sent in 64 KiB pieces, so a large body arrives as many reads.
        Flux<byte[]> pieces = Flux.range(0, (body.length + 65535) / 65536)
                .map(i -> java.util.Arrays.copyOfRange(body, i * 65536, Math.min(body.length, (i + 1) * 65536)));
        return client.post().uri(path).send(ByteBufFlux.fromInbound(pieces))
                .responseSingle((res, content) -> content.asString())
                .block(TIMEOUT);
    }

    private static int count(CharSequence text, String what) {
        int n = 0;
        for (int at = text.toString().indexOf(what); at >= 0; at = text.toString().indexOf(what, at + 1)) {
            n++;
        }
        return n;
    }

    /** CRC32 and length of the bytes seen, in order. */
    private static final class Digest {
        private final CRC32 crc = new CRC32();
        private long length;

        Digest add(byte[] bytes) {
            crc.update(bytes);
            length += bytes.length;
            return this;
        }

        @Override
        public String toString() {
            return length + ":" + Long.toHexString(crc.getValue());
        }
    }
}
