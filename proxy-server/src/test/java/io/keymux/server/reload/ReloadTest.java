package io.keymux.server.reload;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.load.LoadResult;
import io.keymux.config.reload.ConfigSource;
import io.keymux.config.reload.ConfigWatcher;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.http.client.HttpClient;

/**
 * Reload from files (SPEC.md section 7): an in-place edit, an atomic rename and a Kubernetes
 * {@code ..data} symlink swap are each picked up by the watcher and swapped in; an invalid file is
 * refused while the old config serves; a stream in flight finishes on the old key while the next
 * request uses the rotated one; {@code POST /admin/reload} answers 200 and 422.
 */
class ReloadTest extends KeymuxTestBase {
    private static final String OLD_SECRET = "sk-old-rotating-secret";
    private static final String NEW_SECRET = "sk-new-rotating-secret";
    private static final String ADMIN_TOKEN = "adm-token-for-tests";

    @TempDir
    Path dir;

    private final BlockingQueue<ReloadResult> reloads = new LinkedBlockingQueue<>();
    private @Nullable ConfigWatcher watcher;

    @AfterEach
    void stopWatcher() {
        if (watcher != null) {
            watcher.close();
        }
    }

    private String yaml(String secret, int rpm) {
        return """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1 }
                admin: { token: %s }
                upstreams:
                  stub: { base_url: "%s", auth: bearer }
                default_upstream: stub
                default_task: chat
                tasks:
                  - name: chat
                api_keys:
                  - { key_id: rotating, api_key: "%s", task_types: [chat], max_rpm: %d }
                clients:
                  - { name: app, key: "%s" }
                """.formatted(ADMIN_TOKEN, stub.baseUrl(), secret, rpm, TestConfigs.CLIENT_KEY);
    }

    /** Starts keymux from {@code file} and a watcher feeding its reloads into {@link #reloads}. */
    private KeymuxServer serve(Path file) throws IOException {
        ConfigSource source = ConfigSource.of(file, List.of(), Map.of(), dir);
        LoadResult first = source.load();
        assertThat(first.problems()).isEmpty();
        keymux = KeymuxServer.builder(first.configOrThrow()).configSource(source).start();
        KeymuxServer server = keymux;
        watcher = source.watch(Duration.ofMillis(50), result -> reloads.add(server.apply(result)));
        return server;
    }

    private ReloadResult nextReload() throws InterruptedException {
        ReloadResult result = reloads.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(result).as("a reload within %s", TIMEOUT).isNotNull();
        return result;
    }

    /** The key the stub saw on a fresh request. */
    private String keySeenUpstream() {
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o")).status()).isEqualTo(200);
        return stub.last().headers().get("Authorization");
    }

    @Test
    void anInPlaceEditIsPickedUp() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        serve(file);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + OLD_SECRET);

        Files.writeString(file, yaml(NEW_SECRET, 100));

        assertThat(nextReload()).isInstanceOf(ReloadResult.Applied.class);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);
        assertThat(keymux.metrics().scrape()).contains("keymux_config_reloads_total{result=\"ok\"} 1.0");
    }

    @Test
    void anAtomicRenameIsPickedUp() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        serve(file);

        Path temp = Files.writeString(dir.resolve(".keymux.yaml.swp"), yaml(NEW_SECRET, 100));
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

        assertThat(nextReload()).isInstanceOf(ReloadResult.Applied.class);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);
    }

    @Test
    void aKubernetesSymlinkSwapIsPickedUp() throws Exception {
        // A ConfigMap volume: keymux.yaml -> ..data/keymux.yaml, ..data -> ..<timestamp>/
        Path v1 = Files.createDirectory(dir.resolve("..2026_11_22_v1"));
        Files.writeString(v1.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        Files.createSymbolicLink(dir.resolve("..data"), v1.getFileName());
        Path file = Files.createSymbolicLink(dir.resolve("keymux.yaml"), Path.of("..data", "keymux.yaml"));
        serve(file);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + OLD_SECRET);

        Path v2 = Files.createDirectory(dir.resolve("..2026_11_22_v2"));
        Files.writeString(v2.resolve("keymux.yaml"), yaml(NEW_SECRET, 100));
        Path tmpLink = Files.createSymbolicLink(dir.resolve("..data_tmp"), v2.getFileName());
        Files.move(tmpLink, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

        assertThat(nextReload()).isInstanceOf(ReloadResult.Applied.class);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);
    }

    @Test
    void anInvalidFileIsRefusedAndTheOldConfigKeepsServing() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        serve(file);
        ch.qos.logback.classic.Logger serverLog =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(KeymuxServer.class);
        var logged = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
        logged.start();
        ch.qos.logback.classic.Level level = serverLog.getLevel();
        serverLog.setLevel(ch.qos.logback.classic.Level.WARN); // whatever an earlier test set
        serverLog.addAppender(logged);

        Files.writeString(file, yaml(NEW_SECRET, -5));

        ReloadResult result = nextReload();
        serverLog.detachAppender(logged);
        serverLog.setLevel(level);
        // One log line that carries the problems themselves, not a count of them.
        assertThat(logged.list).filteredOn(e -> e.getFormattedMessage().startsWith("config reload refused"))
                .singleElement()
                .satisfies(e -> assertThat(e.getFormattedMessage()).contains("api_keys[0].max_rpm: ")
                        .doesNotContain(NEW_SECRET).doesNotContain(OLD_SECRET));
        assertThat(result).isInstanceOf(ReloadResult.Refused.class);
        ReloadResult.Refused refused = (ReloadResult.Refused) result;
        assertThat(refused.problems()).anySatisfy(p -> assertThat(p).startsWith("api_keys[0].max_rpm: "));
        assertThat(String.join("\n", refused.problems())).doesNotContain(NEW_SECRET).doesNotContain(OLD_SECRET);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + OLD_SECRET);
        assertThat(keymux.config().apiKeys().get(0).maxRpm()).isEqualTo(100);
        assertThat(keymux.metrics().scrape()).contains("keymux_config_reloads_total{result=\"refused\"} 1.0");
    }

    @Test
    void aStreamInFlightFinishesOnTheOldKeyWhileTheNextRequestUsesTheRotatedOne() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        serve(file);
        Sinks.Many<String> events = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(UpstreamStub.Reply.sse(events.asFlux()));
        Sinks.One<String> firstChunk = Sinks.one();
        CompletableFuture<String> stream = client()
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send((req, out) -> out.sendString(Mono.just(chatBody("gpt-4o"))))
                .response((res, body) -> body.asString(StandardCharsets.UTF_8)
                        .doOnNext(chunk -> firstChunk.tryEmitValue(chunk)))
                .reduce(String::concat)
                .toFuture();
        events.tryEmitNext(UpstreamStub.chunkEvent("before"));
        assertThat(firstChunk.asMono().block(TIMEOUT)).contains("before");

        Files.writeString(file, yaml(NEW_SECRET, 100));
        assertThat(nextReload()).isInstanceOf(ReloadResult.Applied.class);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);

        events.tryEmitNext(UpstreamStub.chunkEvent("after"));
        events.tryEmitNext("data: [DONE]\n\n");
        events.tryEmitComplete();
        assertThat(stream.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).contains("before").contains("after")
                .contains("[DONE]");
        assertThat(stub.recorded()).hasSize(2);
        assertThat(stub.recorded().get(0).headers().get("Authorization")).isEqualTo("Bearer " + OLD_SECRET);
        assertThat(stub.recorded().get(1).headers().get("Authorization")).isEqualTo("Bearer " + NEW_SECRET);
    }

    private record AdminAnswer(int status, String body) {}

    private AdminAnswer postReload(@Nullable String token) {
        return HttpClient.create()
                .baseUrl("http://127.0.0.1:" + keymux.adminPort())
                .headers(h -> {
                    if (token != null) {
                        h.set("Authorization", "Bearer " + token);
                    }
                })
                .post().uri("/admin/reload")
                .responseSingle((res, body) -> body.asString().defaultIfEmpty("")
                        .map(b -> new AdminAnswer(res.status().code(), b)))
                .block(TIMEOUT);
    }

    @Test
    void postAdminReloadAnswers200WithASummaryAnd422WithTheProblems() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        serve(file);
        watcher.close(); // only the admin endpoint reloads in this test
        watcher = null;

        Files.writeString(file, yaml(NEW_SECRET, 100));
        AdminAnswer ok = postReload(ADMIN_TOKEN);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo(
                "{\"status\":\"reloaded\",\"upstreams\":4,\"tasks\":1,\"keys\":1,\"clients\":1}");
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);

        Files.writeString(file, yaml("sk-third-secret", 0));
        AdminAnswer refused = postReload(ADMIN_TOKEN);
        assertThat(refused.status()).isEqualTo(422);
        assertThat(refused.body()).startsWith("{\"error\":\"invalid configuration\",\"problems\":[")
                .contains("api_keys[0].max_rpm: ").doesNotContain("sk-third-secret");
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);
    }

    @Test
    void postAdminReloadNeedsTheAdminToken() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        serve(file);

        assertThat(postReload(null).status()).isEqualTo(401);
        AdminAnswer wrong = postReload("not-the-token");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.body()).contains("\"code\":\"invalid_admin_token\"").doesNotContain(ADMIN_TOKEN);
    }

    @Test
    void postAdminReloadIsForbiddenWithoutAConfiguredToken() {
        startKeymux(config().build());

        AdminAnswer answer = postReload("anything");

        assertThat(answer.status()).isEqualTo(403);
        assertThat(answer.body()).contains("\"code\":\"admin_disabled\"");
    }

    @Test
    void restartOnlySettingsAreReportedAndTheRestApplies() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml(OLD_SECRET, 100));
        KeymuxServer server = serve(file);
        watcher.close();
        watcher = null;

        Files.writeString(file, yaml(NEW_SECRET, 100).replace("port: 0, admin_port: 0",
                "port: 0, admin_port: 0, max_connections: 77, idle_timeout: 5s"));
        ReloadResult result = server.reloadFromSource();

        assertThat(result).isInstanceOf(ReloadResult.Applied.class);
        assertThat(((ReloadResult.Applied) result).restartRequired())
                .containsExactly("server.idle_timeout", "server.max_connections");
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + NEW_SECRET);
    }

    @Test
    void anAddedKeyServesAtOnceAndARemovedOneGetsNoNewRequests() {
        startKeymux(config().key("old", TestConfigs.POOL_KEY_1, "chat").build());
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + TestConfigs.POOL_KEY_1);

        ReloadResult result = keymux.reload(config().key("new", TestConfigs.POOL_KEY_2, "chat").build());

        assertThat(result.body()).containsEntry("status", "reloaded").containsEntry("keys", 1);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + TestConfigs.POOL_KEY_2);
        assertThat(keySeenUpstream()).isEqualTo("Bearer " + TestConfigs.POOL_KEY_2);
        assertThat(keymux.config().apiKeys()).extracting(k -> k.keyId()).containsExactly("new");
    }

    @Test
    void withoutAConfigSourceAReloadIsRefused() {
        startKeymux(config().build());

        ReloadResult result = keymux.reloadFromSource();

        assertThat(result).isInstanceOf(ReloadResult.Refused.class);
        assertThat(result.status()).isEqualTo(422);
    }
}
