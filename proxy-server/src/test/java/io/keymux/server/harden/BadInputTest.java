package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.RawHttp;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * One row per kind of bad input: the status (and SPEC.md section 4 code) keymux answers, over raw
 * sockets where a client library would refuse to send the request, and that a normal request is
 * served right after. The rows about HTTP itself run against the admin port too, which has the same
 * limits and timeouts (slowloris included).
 */
class BadInputTest extends KeymuxTestBase {
    static final Duration READ_TIMEOUT = Duration.ofMillis(700);
    static final int MAX_CONNECTIONS = 8;
    static final String AUTH = "Authorization: Bearer " + TestConfigs.CLIENT_KEY + "\r\n";

    /** How a row talks to keymux: returns the raw response it got. */
    @FunctionalInterface
    interface Exchange {
        String run(int port) throws IOException;
    }

    /**
     * The listener a row is sent to, with the paths its requests use there: the proxy's, or the admin
     * port's, where the same limits and timeouts hold (SPEC.md section 4).
     */
    enum Port {
        PROXY("/v1/chat/completions", "/v1/models"),
        ADMIN("/admin/reload", "/healthz");

        final String postPath;
        final String getPath;

        Port(String postPath, String getPath) {
            this.postPath = postPath;
            this.getPath = getPath;
        }
    }

    record Row(String name, Exchange exchange, int status, @Nullable String code) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Row raw(String name, String request, int status, @Nullable String code) {
        return new Row(name, port -> RawHttp.exchange(port, request), status, code);
    }

    static String post(String path, String contentType, String body) {
        // Connection: close, so the raw reader knows where a chunked upstream answer ends.
        return "POST " + path + " HTTP/1.1\r\nHost: keymux\r\nConnection: close\r\n" + AUTH + "Content-Type: " + contentType
                + "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
    }

    static String get(String path, String extraHeaders) {
        return "GET " + path + " HTTP/1.1\r\nHost: keymux\r\n" + AUTH + extraHeaders + "\r\n";
    }

    /** Every row on both ports, except those about what the proxy does with a request it accepted. */
    static Stream<Arguments> cases() {
        return Stream.concat(
                Stream.concat(wireRows(Port.PROXY), proxyRows()).map(row -> Arguments.of(Port.PROXY, row)),
                wireRows(Port.ADMIN).map(row -> Arguments.of(Port.ADMIN, row)));
    }

    /** Bad HTTP itself: refused the same way on either port. */
    static Stream<Row> wireRows(Port p) {
        String manyHeaders = "X-Filler: 1\r\n".repeat(150);
        String bigHeader = "X-Big: " + "a".repeat(70_000) + "\r\n";
        String getPath = p.getPath;
        String postPath = p.postPath;
        return Stream.of(
                raw("header block over max_header_bytes", get(getPath, bigHeader), 431, "headers_too_large"),
                raw("more than 100 header lines", get(getPath, manyHeaders), 431, "headers_too_large"),
                raw("request line over max_uri_bytes", get("/v1/" + "a".repeat(20_000), ""), 414, "uri_too_long"),
                raw("CR inside a header value", get(getPath, "X-Inject: a\rInjected: yes\r\n"), 400,
                        "bad_request"),
                raw("NUL inside a header value", get(getPath, "X-Inject: a\u0000b\r\n"), 400, "bad_request"),
                raw("CRLF inside the request line", "GET " + getPath + "\r\nX-Injected: yes HTTP/1.1\r\nHost: k\r\n\r\n",
                        400, "bad_request"),
                raw("garbage request line", "HELLO\r\n\r\n", 400, "bad_request"),
                raw("Content-Length and Transfer-Encoding", "POST " + postPath + " HTTP/1.1\r\nHost: k\r\n" + AUTH
                        + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request"),
                raw("two different Content-Lengths", "POST " + postPath + " HTTP/1.1\r\nHost: k\r\n" + AUTH
                        + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", 400, "bad_request"),
                raw("CONNECT (would tunnel a pooled upstream connection)", "CONNECT " + getPath + " HTTP/1.1\r\nHost: k\r\n"
                        + AUTH + "\r\n", 405, "method_not_allowed"),
                raw("TRACE (would echo the injected key)", "TRACE " + getPath + " HTTP/1.1\r\nHost: k\r\n" + AUTH + "\r\n",
                        405, "method_not_allowed"),
                raw("HTTP/9.9", "GET " + getPath + " HTTP/9.9\r\nHost: k\r\n" + AUTH + "\r\n", 400, "bad_request"),
                raw("slowloris: headers never finish", "GET " + getPath + " HTTP/1.1\r\nHost: keymux\r\nX-Slow: ", 408,
                        "request_timeout"),
                new Row("flood over max_connections", port -> flood(port, getPath), 503, "overloaded"));
    }

    /** What the proxy does with requests it reads whole: bodies pass through, prefixes are checked. */
    static Stream<Row> proxyRows() {
        return Stream.of(
                // keymux forwards bodies as received: the upstream judges them (the stub says 200).
                raw("malformed JSON body", post("/v1/chat/completions", "application/json", "{\"model\": "), 200, null),
                raw("invalid UTF-8 body", post("/v1/chat/completions", "application/json",
                        "{\"model\":\"gpt-4o\",\"x\":\"\u00c3\u0028\u00ff\"}"), 200, null),
                raw("bad chunk size", "POST /v1/chat/completions HTTP/1.1\r\nHost: k\r\n" + AUTH
                        + "Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n", 400, "bad_request"),
                raw("traversal: /tasks/..", get("/tasks/../v1/models", ""), 400, "bad_request"),
                raw("traversal: /tasks/%2e%2e", get("/tasks/%2e%2e/v1/models", ""), 400, "bad_request"),
                raw("traversal: /tasks/a%2fb", get("/tasks/a%2fb/v1/models", ""), 400, "bad_request"),
                raw("slow body: stops after 10 of 100 bytes", "POST /v1/chat/completions HTTP/1.1\r\nHost: keymux\r\n"
                        + AUTH + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":", 408,
                        "request_timeout"));
    }

    /**
     * Opens keep-alive connections, each serving one request, until one is over the cap; the test
     * client's own pooled connection may count too, so the 503 comes at connection cap+1 at the latest.
     */
    static String flood(int port, String path) throws IOException {
        List<RawConnection> open = new ArrayList<>();
        try {
            for (int i = 0; i <= MAX_CONNECTIONS; i++) {
                RawConnection c = new RawConnection(port);
                open.add(c);
                // keymux answers itself (an unknown task on the proxy port), with a Content-Length,
                // and keeps the connection.
                String answer = c.send(get(path, "X-Task-Type: none\r\n")).readResponse();
                if (RawHttp.status(answer) == 503) {
                    assertThat(c.closedByServer()).as("the over-cap connection is closed").isTrue();
                    return answer;
                }
            }
            throw new AssertionError("no connection was refused within " + (MAX_CONNECTIONS + 1));
        } finally {
            for (RawConnection c : open) {
                c.close();
            }
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void answersBadInputAndKeepsServing(Port port, Row row) throws IOException {
        startKeymux(config().server(s -> s.requestHeaderTimeout(READ_TIMEOUT).maxConnections(MAX_CONNECTIONS)).build());
        // A pooled connection exists before the row, as in real traffic.
        assertThat(normalRequestStatus(port)).isEqualTo(200);

        String answer = row.exchange().run(port == Port.PROXY ? keymux.proxyPort() : keymux.adminPort());

        assertThat(answer).as("an answer, not a silent close").startsWith("HTTP/1.1 ");
        assertThat(RawHttp.status(answer)).isEqualTo(row.status());
        if (row.code() != null) {
            assertThat(answer).containsIgnoringCase("content-type: application/json")
                    .contains("\"type\":\"keymux_error\"").contains("\"code\":\"" + row.code() + "\"");
        }
        assertThat(answer).doesNotContain(TestConfigs.POOL_KEY_1).doesNotContain(TestConfigs.CLIENT_KEY);
        assertThat(normalRequestStatus(port)).as("a normal request right after").isEqualTo(200);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Port.class)
    void aNewConnectionThatSendsNothingIsClosedAfterTheHeaderTimeoutWithoutAnAnswer(Port port) throws IOException {
        startKeymux(config().server(s -> s.requestHeaderTimeout(READ_TIMEOUT).maxConnections(MAX_CONNECTIONS)).build());

        try (RawConnection silent = new RawConnection(port == Port.PROXY ? keymux.proxyPort() : keymux.adminPort())) {
            assertThat(silent.closedByServer()).isTrue();
        }
        assertThat(normalRequestStatus(port)).isEqualTo(200);
    }

    /**
     * No admin route reads a body, so one that stops arriving does not hold an answer back; the
     * connection is still closed once the body has been quiet for the read timeout, instead of staying
     * open as long as the client likes (RawConnection gives up after 15 s).
     */
    @Test
    void aSlowBodyOnTheAdminPortDoesNotKeepItsConnectionOpen() throws IOException {
        startKeymux(config().server(s -> s.requestHeaderTimeout(READ_TIMEOUT).maxConnections(MAX_CONNECTIONS)).build());

        try (RawConnection slow = new RawConnection(keymux.adminPort())) {
            String answer = slow.send("POST /admin/reload HTTP/1.1\r\nHost: keymux\r\nContent-Type: application/json"
                    + "\r\nContent-Length: 100\r\n\r\n{\"a\":").readResponse();
            // The test config sets no admin token: the admin API is off.
            assertThat(RawHttp.status(answer)).isEqualTo(403);
            String rest = slow.readResponse();
            // Either closed at once, or a 408 request_timeout first and then closed.
            if (!rest.isEmpty()) {
                assertThat(RawHttp.status(rest)).isEqualTo(408);
                assertThat(rest).contains("\"code\":\"request_timeout\"");
                assertThat(slow.closedByServer()).isTrue();
            }
        }
        assertThat(normalRequestStatus(Port.ADMIN)).isEqualTo(200);
    }

    /**
     * A normal request. After the flood row the refused sockets' slots come back when the server has
     * processed their close, which the client cannot observe; a few immediate retries of a 503 cover it.
     */
    private int normalRequestStatus(Port port) {
        int status = 0;
        for (int i = 0; i < 100 && status != 200; i++) {
            status = port == Port.PROXY ? post("/v1/chat/completions", chatBody("gpt-4o")).status() : healthz();
            if (status != 503) {
                break;
            }
        }
        return status;
    }

    private int healthz() {
        Integer status = HttpClient.create().get().uri("http://127.0.0.1:" + keymux.adminPort() + "/healthz")
                .responseSingle((res, body) -> body.then(Mono.just(res.status().code())))
                .block(TIMEOUT);
        return status == null ? 0 : status;
    }
}
