package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyStatus;
import io.keymux.server.testing.UpstreamStub;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpServer;

/**
 * A pooled upstream connection that the upstream closed while it sat idle (its keep-alive timeout
 * racing keymux's) fails the next request before any answer byte: keymux sends that request once
 * more on a new connection and charges the key nothing for the dead one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StalePooledConnectionTest extends FailoverTestBase {
    private static final Pattern CONTENT_LENGTH = Pattern.compile("(?i)content-length: (\\d+)");
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger answered = new AtomicInteger();
    private DisposableServer upstream;

    /**
     * A raw upstream that answers one request per connection with a keep-alive 200, then closes that
     * connection without a word when the next request arrives on it: the race, made certain.
     */
    private URI startOneShotUpstream() {
        byte[] body = UpstreamStub.CHAT_COMPLETION.getBytes(StandardCharsets.UTF_8);
        String answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                + "\r\n\r\n" + UpstreamStub.CHAT_COMPLETION;
        upstream = TcpServer.create().host("127.0.0.1").port(0)
                .handle((in, out) -> {
                    connections.incrementAndGet();
                    AtomicInteger requests = new AtomicInteger();
                    return in.receive().asString(StandardCharsets.UTF_8)
                            .filter(text -> text.contains("HTTP/1.1\r\n"))
                            .concatMap(text -> {
                                if (requests.incrementAndGet() > 1) {
                                    return Mono.error(new IOException("closing a kept-alive connection"));
                                }
                                answered.incrementAndGet();
                                return out.sendString(Mono.just(answer)).then();
                            })
                            .onErrorResume(e -> Mono.empty())
                            .then();
                })
                .bindNow();
        return URI.create("http://127.0.0.1:" + upstream.port());
    }

    @AfterEach
    void stopUpstream() {
        if (upstream != null) {
            upstream.disposeNow();
        }
    }

    @Test
    void aRequestOnAConnectionTheUpstreamClosedIsSentAgainOnANewOneUncharged() throws IOException {
        start(setup().task(TestConfigs.TASK, t -> t.maxAttempts(1))
                .upstream("oneshot", startOneShotUpstream(), AuthStyle.BEARER)
                .key(chatKey("k1", TestConfigs.POOL_KEY_1, "oneshot", 1)).build());

        // One client connection, so both requests run on one event loop and its one upstream pool.
        try (Socket client = new Socket("127.0.0.1", keymux.proxyPort())) {
            client.setSoTimeout(10_000);
            assertThat(exchange(client)).startsWith("HTTP/1.1 200");
            assertThat(exchange(client)).as("the second request, after the pooled connection died")
                    .startsWith("HTTP/1.1 200");
        }

        assertThat(answered).hasValue(2);
        assertThat(connections).as("the pooled one, then a new one").hasValue(2);
        KeyStatus k1 = state("k1");
        assertThat(k1.state()).isEqualTo(KeyStatus.State.ACTIVE);
        assertThat(k1.totalRequests()).as("the dead connection is not a request of the key's").isEqualTo(2);
        assertThat(k1.successes()).isEqualTo(2);
    }

    private static String exchange(Socket client) throws IOException {
        String body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        OutputStream out = client.getOutputStream();
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: keymux\r\nAuthorization: Bearer "
                + TestConfigs.CLIENT_KEY + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = client.getInputStream();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (true) {
            String text = received.toString(StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            if (end >= 0) {
                Matcher length = CONTENT_LENGTH.matcher(text.substring(0, end));
                if (length.find() && received.size() >= end + 4 + Integer.parseInt(length.group(1))) {
                    return text;
                }
            }
            int n = in.read(buf);
            if (n < 0) {
                return text;
            }
            received.write(buf, 0, n);
        }
    }
}
