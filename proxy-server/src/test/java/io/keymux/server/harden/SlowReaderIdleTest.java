package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.Timeouts;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * A client that stops reading for longer than {@code timeouts.idle} makes keymux stop reading its
 * upstream (back-pressure); that silence is keymux's doing, so it is not an upstream stall: the
 * stream completes once the client reads again, and the key is not charged a timeout (issue 25
 * item 5).
 */
class SlowReaderIdleTest extends KeymuxTestBase {
    /** Far more than the socket buffers on the way can hold, so the upstream side must pause. */
    private static final int EVENTS = 10_000;
    private static final String PAD = "x".repeat(4000);

    @Test
    void aReaderPausedBeyondTheIdleTimeoutStillGetsTheWholeStream() throws Exception {
        stub.defaultReply(r -> UpstreamStub.Reply.sse(Flux.range(0, EVENTS)
                .map(i -> UpstreamStub.chunkEvent(i + PAD))
                .concatWith(Flux.just("data: [DONE]\n\n"))));
        startKeymux(config().task(TestConfigs.TASK, t -> t.timeouts(new Timeouts(Duration.ofSeconds(5),
                Duration.ofSeconds(5), Duration.ofMillis(300)))).defaultTask(TestConfigs.TASK).build());
        String body = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        try (Socket socket = new Socket()) {
            socket.setReceiveBufferSize(16 * 1024);
            socket.connect(new InetSocketAddress("127.0.0.1", keymux.proxyPort()), 5_000);
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TestConfigs.CLIENT_KEY
                    + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] first = new byte[1024];
            int got = in.read(first);
            assertThat(new String(first, 0, got, StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 200");
            // The slow client: five idle timeouts without reading a byte (the scenario, not a synchronisation).
            Thread.sleep(1_500);
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            in.transferTo(rest);
            String tail = rest.toString(StandardCharsets.ISO_8859_1);
            // Booleans, so that a failure does not print 40 MiB.
            assertThat(tail.contains("upstream_timeout")).as("the stream ended in an upstream_timeout event").isFalse();
            assertThat(tail.contains("data: [DONE]")).as("the stream reached [DONE]").isTrue();
            assertThat(tail.endsWith("0\r\n\r\n")).as("the chunked body ended properly").isTrue();
            assertThat(rest.size() + got).isGreaterThan(EVENTS * PAD.length());
        }
        assertThat(keymux.metrics().scrape()).doesNotContain("keymux_failovers_total{reason=\"timeout\"");
    }
}
