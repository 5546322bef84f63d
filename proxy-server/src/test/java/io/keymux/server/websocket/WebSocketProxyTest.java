package io.keymux.server.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.Await;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.KeymuxServer;
import io.keymux.server.observe.AuditCapture;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * WebSocket sessions through keymux (SPEC.md section 3.10) over real sockets, against an in-process
 * Realtime upstream ({@link RealtimeStub}) and Reactor Netty's WebSocket client.
 */
class WebSocketProxyTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final String CLIENT_KEY = "ck-realtime-client-1";
    private static final String POOL_KEY_1 = "sk-realtime-pool-1";
    private static final String POOL_KEY_2 = "sk-realtime-pool-2";
    private static final Map<String, String> BEARER = Map.of("Authorization", "Bearer " + CLIENT_KEY);

    @TempDir Path dir;
    private final RealtimeStub stub = new RealtimeStub(POOL_KEY_1, POOL_KEY_2);
    private @Nullable KeymuxServer keymux;

    @AfterEach
    void stop() {
        if (keymux != null) {
            keymux.close();
        }
        stub.close();
    }

    /** keymux with the stub as upstream {@code openai}, the task {@code realtime} and {@code keys}. */
    private KeymuxServer start(String serverExtra, String taskExtra, String keys) {
        String yaml = "server: { port: 0, admin_port: 0, bind: 127.0.0.1" + serverExtra + " }\n"
                + "upstreams:\n  openai: { base_url: \"" + stub.baseUrl() + "\", auth: bearer }\n"
                + "default_task: realtime\n"
                + "tasks:\n  - { name: realtime, max_wait: 300ms" + taskExtra + " }\n"
                + "api_keys:\n" + keys
                + "clients:\n  - { name: app, key: " + CLIENT_KEY + " }\n";
        KeymuxConfig config = TestConfigs.yaml(dir, yaml, Map.of());
        keymux = KeymuxServer.start(config);
        return keymux;
    }

    private static String key(String id, String secret, String extra) {
        return "  - { key_id: " + id + ", api_key: " + secret + ", task_types: [realtime], max_rpm: 100"
                + extra + " }\n";
    }

    private KeymuxServer startOneKey() {
        return start("", "", key("k1", POOL_KEY_1, ", cost_per_input_token: 0.001, cost_per_output_token: 0.002"));
    }

    private String url(String query) {
        return "ws://127.0.0.1:" + keymux.proxyPort() + "/v1/realtime?model=gpt-realtime" + query;
    }

    private String scrape() {
        return keymux.metrics().scrape();
    }

    private static double metric(String scrape, String name, String... labels) {
        return scrape.lines().filter(line -> line.startsWith(name + "{"))
                .filter(line -> java.util.Arrays.stream(labels).allMatch(line::contains))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
                .sum();
    }

    @Test
    void realtimeSessionWithHeaderAuthIsRelayedAndItsUsageCountedInMetricsAndAudit() throws Exception {
        try (AuditCapture audit = new AuditCapture()) {
            startOneKey();
            try (TestSocket socket = TestSocket.connect(url(""), BEARER, null, false)) {
                assertThat(socket.nextOfType("session.created")).contains("sess_1");
                HttpHeaders answer = socket.responseHeaders.get(20, TimeUnit.SECONDS);
                assertThat(answer.get("X-Keymux-Key-Id")).isEqualTo("k1");
                assertThat(answer.get("X-Keymux-Task")).isEqualTo("realtime");
                assertThat(metric(scrape(), "keymux_websocket_sessions", "task=\"realtime\"", "key_id=\"k1\""))
                        .isEqualTo(1.0);

                socket.send("{\"type\":\"response.create\",\"response\":{\"modalities\":[\"text\",\"audio\"]}}");
                assertThat(socket.nextOfType("response.created")).contains("resp_1");
                assertThat(socket.nextOfType("response.output_text.delta")).contains("Hel");
                assertThat(socket.nextOfType("response.audio.delta")).contains("UklGRg==");
                assertThat(socket.nextOfType("response.done")).contains("\"input_tokens\":120");
                // Counted as it arrives, while the session is still open.
                Await.until("tokens counted", () -> metric(scrape(), "keymux_tokens_total", "kind=\"prompt\"",
                        "key_id=\"k1\"") == 120.0, TIMEOUT);
                String now = scrape();
                assertThat(metric(now, "keymux_tokens_total", "kind=\"completion\"", "key_id=\"k1\"")).isEqualTo(40.0);
                assertThat(metric(now, "keymux_cost_usd_total", "key_id=\"k1\"", "client=\"app\""))
                        .isCloseTo(120 * 0.001 + 40 * 0.002, org.assertj.core.data.Offset.offset(1e-9));

                // The upstream got the pool key, never the client's.
                HttpHeaders upgrade = stub.upgrades().get(0);
                assertThat(upgrade.get("Authorization")).isEqualTo("Bearer " + POOL_KEY_1);
                assertThat(upgrade.toString()).doesNotContain(CLIENT_KEY);
                socket.closeWith(1000, "done");
                Await.until("session over", () -> metric(scrape(), "keymux_websocket_sessions", "key_id=\"k1\"") == 0.0,
                        TIMEOUT);
            }
            keymux.close();
            List<String> lines = audit.lines().stream().filter(line -> line.contains("\"WEBSOCKET\"")).toList();
            assertThat(lines).hasSize(1);
            String line = lines.get(0);
            assertThat(line).contains("\"status\":101", "\"key_id\":\"k1\"", "\"task\":\"realtime\"",
                    "\"prompt_tokens\":120", "\"completion_tokens\":40", "\"path\":\"/v1/realtime\"");
            assertThat(line).doesNotContain(POOL_KEY_1, CLIENT_KEY);
        }
    }

    @Test
    void browserSubprotocolAuthenticatesAndIsNotPassedUpstreamWhichGetsItsOwnKey() throws Exception {
        startOneKey();
        String offer = "realtime,openai-insecure-api-key." + CLIENT_KEY + ",openai-beta.realtime-v1";
        try (TestSocket socket = TestSocket.connect(url(""), Map.of(), offer, false)) {
            assertThat(socket.nextOfType("session.created")).contains("sess_1");
            assertThat(socket.subprotocol.get(20, TimeUnit.SECONDS)).isEqualTo("realtime");
            HttpHeaders upgrade = stub.upgrades().get(0);
            assertThat(upgrade.get("Sec-WebSocket-Protocol")).contains("realtime").doesNotContain("insecure")
                    .doesNotContain(CLIENT_KEY);
            assertThat(upgrade.get("Authorization")).isEqualTo("Bearer " + POOL_KEY_1);
        }
    }

    @Test
    void wrongClientKeyInTheSubprotocolIsRefusedWith401() {
        startOneKey();
        Answer answer = upgradeOverPlainHttp(Map.of("Sec-WebSocket-Protocol",
                "realtime, openai-insecure-api-key.ck-wrong"));
        assertThat(answer.status()).isEqualTo(401);
        assertThat(answer.body()).contains("invalid_client_key").doesNotContain("ck-wrong");
        assertThat(stub.upgrades()).isEmpty();
    }

    @Test
    void malformedUpgradeIsRefusedWith400BeforeAnyKeyIsUsed() {
        startOneKey();
        Map<String, String> headers = new java.util.HashMap<>(BEARER);
        headers.put("Sec-WebSocket-Version", "8");
        Answer answer = upgradeOverPlainHttp(headers);
        assertThat(answer.status()).isEqualTo(400);
        assertThat(answer.body()).contains("\"code\":\"bad_request\"");
        assertThat(stub.upgrades()).isEmpty();
    }

    @Test
    void refusedUpgradeWith429FailsOverToTheSecondKey() throws Exception {
        stub.refuseWith429(POOL_KEY_1);
        start("", ", strategy: priority", key("k1", POOL_KEY_1, ", priority: 2") + key("k2", POOL_KEY_2, ", priority: 1"));
        try (TestSocket socket = TestSocket.connect(url(""), BEARER, null, false)) {
            assertThat(socket.nextOfType("session.created")).contains("sess_1");
            HttpHeaders answer = socket.responseHeaders.get(20, TimeUnit.SECONDS);
            assertThat(answer.get("X-Keymux-Key-Id")).isEqualTo("k2");
            assertThat(answer.get("X-Keymux-Attempts")).isEqualTo("2");
        }
        assertThat(stub.upgrades()).extracting(h -> h.get("Authorization"))
                .containsExactly("Bearer " + POOL_KEY_1, "Bearer " + POOL_KEY_2);
        assertThat(metric(scrape(), "keymux_failovers_total", "task=\"realtime\"", "reason=\"429\"")).isEqualTo(1.0);
    }

    @Test
    void upgradeRefusedByEveryKeyAnswersKeymuxsOwn429() {
        stub.refuseWith429(POOL_KEY_1);
        startOneKey();
        Answer answer = upgradeOverPlainHttp(BEARER);
        assertThat(answer.status()).isEqualTo(429);
        assertThat(answer.body()).contains("\"code\":\"all_keys_exhausted\"").doesNotContain("rate_limit_exceeded");
        assertThat(answer.headers().get("Retry-After")).isNotNull();
    }

    @Test
    void closeCodesArePassedOnBothWays() throws Exception {
        startOneKey();
        // The client closes: the upstream sees its code and reason.
        try (TestSocket socket = TestSocket.connect(url(""), BEARER, null, false)) {
            socket.nextOfType("session.created");
            socket.closeWith(4000, "client says bye");
            Await.until("the upstream saw the close", () -> !stub.closes().isEmpty(), TIMEOUT);
            assertThat(stub.closes().get(0)).isEqualTo(new WebSocketCloseStatus(4000, "client says bye"));
        }
        // The upstream closes: the client sees its code and reason.
        try (TestSocket socket = TestSocket.connect(url(""), BEARER, null, false)) {
            socket.nextOfType("session.created");
            socket.send("{\"type\":\"test.close\",\"code\":4001,\"reason\":\"upstream says bye\"}");
            WebSocketCloseStatus status = socket.awaitClose();
            assertThat(status.code()).isEqualTo(4001);
            assertThat(status.reasonText()).isEqualTo("upstream says bye");
        }
        Await.until("both sessions over", () -> metric(scrape(), "keymux_websocket_sessions", "key_id=\"k1\"") == 0.0
                && stub.openSessions() == 0, TIMEOUT);
    }

    @Test
    void clientThatVanishesWithoutACloseFrameEndsTheSessionAndTheUpstreamGets1001() throws Exception {
        startOneKey();
        TestSocket socket = TestSocket.connect(url(""), BEARER, null, false);
        socket.nextOfType("session.created");
        socket.close(); // the TCP connection goes, no close frame
        Await.until("the upstream was closed", () -> !stub.closes().isEmpty(), TIMEOUT);
        assertThat(stub.closes().get(0).code()).isEqualTo(1001);
        Await.until("the session is over", () -> metric(scrape(), "keymux_websocket_sessions", "key_id=\"k1\"") == 0.0
                && keymux.inFlight() == 0, TIMEOUT);
    }

    @Test
    void sessionIsClosedWith1001AfterMaxWebsocketSession() throws Exception {
        start(", max_websocket_session: 1s", "", key("k1", POOL_KEY_1, ""));
        try (TestSocket socket = TestSocket.connect(url(""), BEARER, null, false)) {
            socket.nextOfType("session.created");
            long opened = System.nanoTime();
            WebSocketCloseStatus status = socket.awaitClose();
            assertThat(status.code()).isEqualTo(1001);
            assertThat(status.reasonText()).contains("max_websocket_session");
            assertThat(System.nanoTime() - opened).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(800));
            Await.until("the upstream was closed too", () -> !stub.closes().isEmpty(), TIMEOUT);
            assertThat(stub.closes().get(0).code()).isEqualTo(1001);
        }
    }

    @Test
    void sessionWithoutFramesIsClosedAfterTheIdleTimeout() throws Exception {
        start("", ", timeouts: { idle: 500ms }", key("k1", POOL_KEY_1, ""));
        try (TestSocket socket = TestSocket.connect(url(""), BEARER, null, false)) {
            socket.nextOfType("session.created");
            WebSocketCloseStatus status = socket.awaitClose();
            assertThat(status.code()).isEqualTo(1001);
            assertThat(status.reasonText()).contains("idle");
            Await.until("the upstream was closed too", () -> !stub.closes().isEmpty(), TIMEOUT);
            assertThat(stub.closes().get(0).code()).isEqualTo(1001);
        }
    }

    @Test
    void slowClientHoldsTheUpstreamsSendsAndLosesNothing() throws Exception {
        int frames = 4000; // 250 MiB in all, far more than socket buffers hold
        startOneKey();
        try (TestSocket socket = TestSocket.connect(url("&flood=" + frames), BEARER, null, true)) {
            Await.until("the flood started", () -> stub.floodSent() > 0, TIMEOUT);
            // The upstream's sends stop while the client reads nothing: wait until the count holds still.
            int[] last = {-1};
            long[] since = {System.nanoTime()};
            Await.until(() -> "the upstream's sends to stop (sent " + stub.floodSent() + ")", () -> {
                int sent = stub.floodSent();
                if (sent != last[0]) {
                    last[0] = sent;
                    since[0] = System.nanoTime();
                    return false;
                }
                return System.nanoTime() - since[0] > TimeUnit.MILLISECONDS.toNanos(500);
            }, TIMEOUT);
            int held = stub.floodSent();
            // Bounded by socket buffers and a few frames in flight, not by the flood.
            assertThat(held).isLessThan(frames / 4);
            assertThat(socket.framesRead.get()).isLessThanOrEqualTo(1);

            socket.readAll();
            Await.until(() -> "every frame read (" + socket.framesRead.get() + ")",
                    () -> socket.framesRead.get() == frames + 1, Duration.ofSeconds(60));
            assertThat(socket.bytesRead.get() - "session.created".length())
                    .isGreaterThanOrEqualTo((long) frames * RealtimeStub.FLOOD_FRAME_BYTES);
        }
    }

    @Test
    void concurrencySlotIsHeldForTheSessionsWholeLife() throws Exception {
        startOneKeyWithOneSlot();
        try (TestSocket first = TestSocket.connect(url(""), BEARER, null, false)) {
            first.nextOfType("session.created");
            Answer second = upgradeOverPlainHttp(BEARER);
            assertThat(second.status()).isEqualTo(429);
            assertThat(second.body()).contains("all_keys_exhausted");
            first.closeWith(1000, "done");
            Await.until("the first session over", () -> metric(scrape(), "keymux_websocket_sessions") == 0.0, TIMEOUT);
        }
        try (TestSocket third = TestSocket.connect(url(""), BEARER, null, false)) {
            assertThat(third.nextOfType("session.created")).contains("sess_1");
        }
        assertThat(stub.upgrades()).hasSize(2);
    }

    private void startOneKeyWithOneSlot() {
        start("", "", key("k1", POOL_KEY_1, ", max_concurrent: 1"));
    }

    record Answer(int status, HttpHeaders headers, String body) {}

    /** An upgrade request over plain HTTP, to read a refusal's status, headers and JSON body. */
    private Answer upgradeOverPlainHttp(Map<String, String> headers) {
        return HttpClient.create()
                .headers(h -> {
                    h.set("Upgrade", "websocket").set("Connection", "Upgrade")
                            .set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==").set("Sec-WebSocket-Version", "13");
                    headers.forEach(h::set);
                })
                .get()
                .uri("http://127.0.0.1:" + keymux.proxyPort() + "/v1/realtime?model=gpt-realtime")
                .responseSingle((response, body) -> body.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(text -> new Answer(response.status().code(), response.responseHeaders(), text)))
                .switchIfEmpty(Mono.error(new AssertionError("no answer")))
                .block(TIMEOUT);
    }
}
