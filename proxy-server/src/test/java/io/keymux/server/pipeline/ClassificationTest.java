package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.MatchRule;
import io.keymux.config.model.Secret;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.RawHttp;
import io.netty.buffer.Unpooled;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/** Each classification path and each client-side error code, over real sockets. */
class ClassificationTest extends KeymuxTestBase {

    private TestConfigs tasks() {
        return config()
                .task("diagnosis", t -> t.match(new MatchRule("/v1/chat/*", "gpt-4*", Map.of("X-App", "dentamind"))))
                .task("embed", t -> t.match(new MatchRule("/v1/embeddings", null, Map.of())))
                .task("vision", t -> t.match(new MatchRule(null, "*-vision", Map.of())))
                .task("general")
                .key("kd", TestConfigs.POOL_KEY_1, "diagnosis", "embed", "vision", "general")
                .client(ClientConfig.builder("app").key(Secret.of(TestConfigs.CLIENT_KEY)))
                .client(ClientConfig.builder("limited").key(Secret.of("ck-limited")).allowedTasks(Set.of("general")));
    }

    @Test
    void taskHeaderSelectsTheTask() {
        startKeymux(tasks().build());
        Answer a = post("/v1/chat/completions", chatBody("gpt-3.5"), "X-Task-Type", "embed");
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.headers().get("X-Keymux-Task")).isEqualTo("embed");
    }

    @Test
    void pathPrefixSelectsTheTaskAndIsStripped() {
        startKeymux(tasks().build());
        Answer a = post("/tasks/vision/v1/chat/completions", chatBody("gpt-3.5"));
        assertThat(a.headers().get("X-Keymux-Task")).isEqualTo("vision");
        assertThat(stub.last().path()).isEqualTo("/v1/chat/completions");
    }

    @Test
    void headerWinsOverThePrefixWhichIsStillStripped() {
        startKeymux(tasks().build());
        Answer a = post("/tasks/vision/v1/chat/completions", chatBody("gpt-3.5"), "X-Task-Type", "general");
        assertThat(a.headers().get("X-Keymux-Task")).isEqualTo("general");
        assertThat(stub.last().path()).isEqualTo("/v1/chat/completions");
    }

    @Test
    void matchRulesOnPathModelAndHeader() {
        startKeymux(tasks().build());
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "X-App", "dentamind").headers()
                .get("X-Keymux-Task")).isEqualTo("diagnosis");
        assertThat(post("/v1/embeddings", chatBody("text-embedding-3")).headers().get("X-Keymux-Task"))
                .isEqualTo("embed");
        assertThat(post("/v1/chat/completions", chatBody("llama-vision")).headers().get("X-Keymux-Task"))
                .isEqualTo("vision");
    }

    @Test
    void defaultTaskWhenNothingMatchesElseNoTaskMatched() {
        startKeymux(tasks().defaultTask("general").build());
        assertThat(post("/v1/other", chatBody("x")).headers().get("X-Keymux-Task")).isEqualTo("general");
        keymux.close();
        keymux = null;
        startKeymux(tasks().build());
        Answer a = post("/v1/other", chatBody("x"));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).contains("\"code\":\"no_task_matched\"").contains("\"type\":\"keymux_error\"");
        assertThat(a.headers().get("Content-Type")).isEqualTo("application/json");
    }

    @Test
    void unknownTaskNamesTheKnownOnes() {
        startKeymux(tasks().build());
        Answer a = post("/v1/chat/completions", chatBody("x"), "X-Task-Type", "nope");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).contains("unknown_task").contains("diagnosis, embed, vision, general");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void clientNotAllowedTheTaskGets403() {
        startKeymux(tasks().build());
        Answer a = call("POST", "/v1/chat/completions", chatBody("x"), "Authorization", "Bearer ck-limited",
                "X-Task-Type", "embed");
        assertThat(a.status()).isEqualTo(403);
        assertThat(a.body()).contains("task_forbidden");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void wrongClientKeyGets401WithoutEchoingIt() {
        startKeymux(tasks().build());
        Answer a = post("/v1/chat/completions", chatBody("x"), "Authorization", "Bearer wrong-key-123");
        assertThat(a.status()).isEqualTo(401);
        assertThat(a.body()).contains("invalid_client_key").doesNotContain("wrong-key-123");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void hashedClientKeyIsAccepted() {
        startKeymux(config().client(ClientConfig.builder("hashed")
                .keySha256(io.keymux.core.auth.ClientAuthenticator.sha256Hex("ck-h"))).build());
        assertThat(post("/v1/x", chatBody("x"), "Authorization", "Bearer ck-h").status()).isEqualTo(200);
    }

    @Test
    void protectedModeServesLoopbackCallers() {
        startKeymux(config().noClients().build());
        assertThat(post("/v1/x", chatBody("x"), "Authorization", "Bearer anything").status()).isEqualTo(200);
    }

    @Test
    void traversalAttemptsAreBadRequests() throws Exception {
        startKeymux(tasks().defaultTask("general").build());
        for (String path : new String[] {"/tasks/../v1", "/tasks/%2e%2e/v1", "/tasks/a%2fb/v1", "/v1/../admin"}) {
            String raw = RawHttp.exchange(keymux.proxyPort(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n"
                    + "Authorization: Bearer " + TestConfigs.CLIENT_KEY + "\r\nConnection: close\r\n\r\n");
            assertThat(RawHttp.status(raw)).as(path).isEqualTo(400);
            assertThat(raw).as(path).contains("bad_request");
        }
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void contentLengthWithTransferEncodingIsRefused() throws Exception {
        startKeymux(tasks().defaultTask("general").build());
        String raw = RawHttp.exchange(keymux.proxyPort(), "POST /v1/x HTTP/1.1\r\nHost: x\r\n"
                + "Authorization: Bearer " + TestConfigs.CLIENT_KEY + "\r\nContent-Length: 5\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        assertThat(RawHttp.status(raw)).isEqualTo(400);
        assertThat(raw).contains("bad_request");
        assertThat(stub.recorded()).isEmpty();
    }

    @Test
    void protectedModeRefusesNonLoopbackCallersSayingHowToConfigureClients() throws Exception {
        InetAddress external = null;
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                if (address instanceof Inet4Address && !address.isLoopbackAddress()) {
                    external = address;
                }
            }
        }
        Assumptions.assumeTrue(external != null, "no non-loopback IPv4 address to call from");
        startKeymux(config().noClients().server(s -> s.bind("0.0.0.0")).build());
        String host = external.getHostAddress();
        Answer a = HttpClient.create()
                .post().uri("http://" + host + ":" + keymux.proxyPort() + "/v1/x")
                .send(Mono.just(Unpooled.copiedBuffer(chatBody("m"),
                        StandardCharsets.UTF_8)))
                .responseSingle((res, body) -> body.asString().defaultIfEmpty("")
                        .map(s -> new Answer(res.status().code(), res.responseHeaders(), s)))
                .block(TIMEOUT);
        assertThat(a.status()).isEqualTo(401);
        assertThat(a.body()).contains("invalid_client_key").contains("protected mode").contains("clients");
        assertThat(stub.recorded()).isEmpty();
    }
}
