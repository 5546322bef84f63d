package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Sends a bounded number of randomly mangled requests (seeded, so a failure replays) over raw
 * sockets. The upstream stub stays up, so any 5xx would be keymux's own failure: none may occur,
 * no answer may carry an upstream key, and a normal request is served afterwards.
 */
class MalformedRequestFuzzTest extends KeymuxTestBase {
    private static final long SEED = 20261122L;
    private static final int REQUESTS = 200;
    private static final Duration READ_TIMEOUT = Duration.ofMillis(300);
    private static final String ALPHABET = "aZ09/.%%..\\?#&=:;,\"' \t\r\n\u0000\u007f\u00c3\u00ff{}[]*-_~";

    @Test
    void randomMalformedRequestsNeverGetA5xxOrAKey() throws IOException {
        startKeymux(config().key("k1", TestConfigs.POOL_KEY_1, "chat").key("k2", TestConfigs.POOL_KEY_2, "chat")
                .server(s -> s.requestHeaderTimeout(READ_TIMEOUT).maxConnections(10_000)).build());
        Random random = new Random(SEED);
        int answered = 0;
        for (int i = 0; i < REQUESTS; i++) {
            byte[] request = mangle(random);
            String answer = exchange(request);
            String replay = "request #" + i + " (seed " + SEED + "): " + HexFormat.of().formatHex(request);
            if (answer.isEmpty()) {
                continue; // closed without an answer: allowed for bytes that are not HTTP at all
            }
            answered++;
            assertThat(answer).as(replay).startsWith("HTTP/1.1 ");
            int status = Integer.parseInt(answer.substring(9, 12));
            assertThat(status).as(replay + "\n" + answer).isLessThan(500);
            assertThat(answer).as(replay).doesNotContain(TestConfigs.POOL_KEY_1).doesNotContain(TestConfigs.POOL_KEY_2);
        }
        assertThat(answered).as("most mangled requests get an HTTP answer").isGreaterThan(REQUESTS / 2);
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o")).status()).isEqualTo(200);
    }

    private static byte[] base(Random random) {
        String body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi " + random.nextInt(1000)
                + "\"}],\"max_tokens\":" + random.nextInt(100) + "}";
        String head = "POST /v1/chat/completions HTTP/1.1\r\nHost: keymux\r\nConnection: close\r\n"
                + "Authorization: Bearer " + TestConfigs.CLIENT_KEY + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length() + "\r\n\r\n";
        return (head + body).getBytes(StandardCharsets.ISO_8859_1);
    }

    private static String randomText(Random random, int max) {
        StringBuilder sb = new StringBuilder();
        int n = 1 + random.nextInt(max);
        for (int i = 0; i < n; i++) {
            sb.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
        }
        return sb.toString();
    }

    static byte[] mangle(Random random) {
        String request = new String(base(random), StandardCharsets.ISO_8859_1);
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int at = random.nextInt(request.length());
            request = switch (random.nextInt(9)) {
                case 0 -> request.substring(0, at) + (char) random.nextInt(256) + request.substring(at + 1);
                case 1 -> request.substring(0, at) + randomText(random, 20) + request.substring(at);
                case 2 -> request.substring(0, at) + request.substring(Math.min(request.length(), at + 1
                        + random.nextInt(20)));
                case 3 -> request.replaceFirst("/v1/chat/completions", (random.nextBoolean() ? "/tasks/" : "/")
                        + randomText(random, 30).replace("$", "").replace("\\", "\\\\"));
                case 4 -> request.replaceFirst("\r\n\r\n", "\r\n" + randomText(random, 10).replace("\\", "\\\\")
                        + ": " + randomText(random, 40).replace("\\", "\\\\").replace("$", "") + "\r\n\r\n");
                case 5 -> request.replaceFirst("Content-Length: \\d+", "Content-Length: " + switch (random.nextInt(4)) {
                    case 0 -> "-1";
                    case 1 -> "99999999999999999999";
                    case 2 -> Integer.toString(random.nextInt(400));
                    default -> "12, 13";
                });
                case 6 -> request.replaceFirst("\r\n\r\n", "\r\nTransfer-Encoding: "
                        + (random.nextBoolean() ? "chunked" : "gzip, chunked") + "\r\n\r\n");
                case 7 -> request.replaceFirst("POST", switch (random.nextInt(4)) {
                    case 0 -> "GET";
                    case 1 -> "P\u00d6ST";
                    case 2 -> "CONNECT";
                    default -> "";
                });
                default -> request.replaceFirst("HTTP/1.1", random.nextBoolean() ? "HTTP/9.9" : "HTTP/1.0");
            };
        }
        return request.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Sends the bytes; reads one answer (to its Content-Length, chunked end, or the close). */
    private String exchange(byte[] request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", keymux.proxyPort())) {
            socket.setSoTimeout((int) TIMEOUT.toMillis());
            socket.getOutputStream().write(request);
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            int n;
            try {
                while ((n = in.read(buf)) > 0) {
                    received.write(buf, 0, n);
                    if (complete(received.toString(StandardCharsets.ISO_8859_1))) {
                        break;
                    }
                }
            } catch (java.net.SocketTimeoutException silent) {
                return "(no answer and no close within " + TIMEOUT + ") " + received.toString(StandardCharsets.ISO_8859_1);
            } catch (SocketException reset) {
                // The server may reset after answering when unread request bytes remain.
            }
            return received.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static boolean complete(String text) {
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) {
            return false;
        }
        String head = text.substring(0, end).toLowerCase(Locale.ROOT);
        if (head.contains("transfer-encoding: chunked")) {
            return text.endsWith("\r\n0\r\n\r\n");
        }
        for (String line : head.split("\r\n")) {
            if (line.startsWith("content-length:")) {
                return text.length() - end - 4 >= Long.parseLong(line.substring(15).trim());
            }
        }
        return false;
    }
}
