package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code keymux probe URL} against a real HTTP server on a loopback port. */
class ProbeCommandTest {

    private HttpServer server;
    private String base;

    @BeforeEach
    void startStub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/healthz", exchange -> answer(exchange, 200, "ok"));
        server.createContext("/readyz", exchange -> answer(exchange, 503, "{\"status\":\"unready\"}"));
        server.createContext("/moved", exchange -> {
            exchange.getResponseHeaders().add("Location", "/healthz");
            answer(exchange, 302, "");
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private static void answer(com.sun.net.httpserver.HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            exchange.getResponseBody().write(bytes);
        }
        exchange.close();
    }

    @AfterEach
    void stopStub() {
        server.stop(0);
    }

    @Test
    void aTwoHundredExitsZeroWithOneLine() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "probe", base + "/healthz");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).isEqualTo("probe " + base + "/healthz: 200" + System.lineSeparator());
        assertThat(run.err()).isEmpty();
    }

    @Test
    void anotherStatusExitsOne() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "probe", base + "/readyz");
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).isEqualTo("probe " + base + "/readyz: 503 (expected: 2xx)" + System.lineSeparator());
        assertThat(run.out()).isEmpty();
    }

    @Test
    void aRedirectIsNotFollowed() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "probe", base + "/moved");
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains(": 302 (expected: 2xx)");
    }

    @Test
    void noListenerExitsOne() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "probe", "--timeout", "2",
                "http://127.0.0.1:" + port + "/healthz");
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err().strip()).isEqualTo("probe http://127.0.0.1:" + port + "/healthz: connection refused or unreachable");
    }

    @Test
    void theLineNamesNeitherUserInfoNorQuery() {
        String secretUrl = base.replace("http://", "http://admin:hunter2@") + "/readyz?token=s3cret";
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "probe", secretUrl);
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out() + run.err()).doesNotContain("hunter2").doesNotContain("s3cret").contains(base + "/readyz");
    }

    @Test
    void notAnHttpUrlExitsOne() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "probe", "ftp://127.0.0.1/x");
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("not an http(s) URL");
    }

    @Test
    void isListedInTheUsage() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "--help");
        assertThat(run.out()).contains("probe");
    }
}
