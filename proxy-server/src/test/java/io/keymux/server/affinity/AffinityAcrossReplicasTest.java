package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.files.FileCreateParams;
import com.openai.models.files.FilePurpose;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.ServeProcess;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * The map of provider objects with {@code limits.backend: redis} (SPEC.md sections 3.9 and 8),
 * across two real {@code keymux serve} processes and a private Redis: an id one replica learned is
 * routed alike by the other and by a restarted one, a list paged on one replica goes on on the
 * other, and while Redis is down each replica serves what it saw itself and searches for the rest.
 */
class AffinityAcrossReplicasTest {
    private static final String KEY_A = "sk-account-a";
    private static final String KEY_B = "sk-account-b";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private ProviderAccounts accounts;
    private Process redis;
    private final List<ServeProcess> replicas = new ArrayList<>();
    private Path config;

    @BeforeEach
    void start() throws Exception {
        accounts = new ProviderAccounts();
        int redisPort = ServeProcess.freePort();
        redis = new ProcessBuilder("redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no").directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.log").toFile()).start();
        ServeProcess.await("redis-server on " + redisPort, () -> {
            try (Socket s = new Socket("127.0.0.1", redisPort)) {
                return true;
            } catch (IOException notYet) {
                return false;
            }
        });
        config = Files.writeString(dir.resolve("keymux.yaml"), """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1, drain_timeout: 1s }
                limits:
                  backend: redis
                  redis: { uri: "redis://127.0.0.1:%d", timeout: 300ms, failure_threshold: 2 }
                upstreams:
                  accounts: { base_url: "%s", auth: bearer }
                default_upstream: accounts
                default_task: chat
                tasks:
                  - { name: chat, strategy: round_robin }
                api_keys:
                  - { key_id: a, api_key: "%s", task_types: [chat] }
                  - { key_id: b, api_key: "%s", task_types: [chat] }
                clients:
                  - { name: app, key: "%s" }
                """.formatted(redisPort, accounts.baseUrl(), KEY_A, KEY_B, TestConfigs.CLIENT_KEY));
        replicas.add(ServeProcess.start(config, dir, "replica-0"));
        replicas.add(ServeProcess.start(config, dir, "replica-1"));
    }

    @AfterEach
    void stop() throws Exception {
        for (ServeProcess replica : replicas) {
            replica.close();
        }
        redis.destroyForcibly();
        redis.waitFor(20, TimeUnit.SECONDS);
        accounts.close();
    }

    private static int get(ServeProcess replica, String uri) {
        return HttpClient.create().headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY))
                .get().uri(replica.proxyUrl() + uri)
                .responseSingle((res, body) -> body.then(Mono.just(res.status().code())))
                .block(ServeProcess.WAIT);
    }

    private static JsonNode list(ServeProcess replica, String uri) throws IOException {
        String body = HttpClient.create().headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY))
                .get().uri(replica.proxyUrl() + uri).responseSingle((res, b) -> b.asString()).block(ServeProcess.WAIT);
        return JSON.readTree(body);
    }

    /** The keys of the upstream requests made since {@code mark}. */
    private List<String> keysSince(int mark) {
        return accounts.seen.subList(mark, accounts.seen.size()).stream().map(ProviderAccounts.Seen::key).toList();
    }

    @Test
    void anIdLearnedOnOneReplicaIsRoutedAlikeByTheOtherAndAfterARestartAndWhileRedisIsDown() throws Exception {
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(replicas.get(0).proxyUrl() + "/v1")
                .apiKey(TestConfigs.CLIENT_KEY).maxRetries(0).build();
        Path input = Files.writeString(dir.resolve("input.jsonl"), "{\"custom_id\":\"1\"}\n");
        String id = sdk.files().create(FileCreateParams.builder().file(input).purpose(FilePurpose.BATCH).build()).id();
        String owner = accounts.keyOf(id);

        // The other replica never saw the upload: one request, to the owner, no search.
        int mark = accounts.seen.size();
        for (int i = 0; i < 4; i++) {
            assertThat(get(replicas.get(1), "/v1/files/" + id)).isEqualTo(200);
        }
        assertThat(keysSince(mark)).containsOnly(owner).hasSize(4);

        // A restarted replica forgets nothing.
        replicas.remove(1).close();
        replicas.add(ServeProcess.start(config, dir, "replica-1b"));
        mark = accounts.seen.size();
        assertThat(get(replicas.get(1), "/v1/files/" + id)).isEqualTo(200);
        assertThat(keysSince(mark)).containsExactly(owner);

        // Redis down: replica 0 serves what it learned itself; an id nobody saw is searched for and found.
        String before = accounts.create(owner.equals(KEY_A) ? KEY_B : KEY_A, "file", "file-");
        redis.destroyForcibly();
        redis.waitFor(20, TimeUnit.SECONDS);
        mark = accounts.seen.size();
        assertThat(get(replicas.get(0), "/v1/files/" + id)).isEqualTo(200);
        assertThat(keysSince(mark)).containsExactly(owner);
        for (int i = 0; i < 3; i++) {
            assertThat(get(replicas.get(1), "/v1/files/" + before)).isEqualTo(200);
        }
    }

    @Test
    void aListPagedOnOneReplicaGoesOnOnTheOtherWithoutGapsOrRepeats() throws Exception {
        List<String> made = new ArrayList<>();
        for (String owner : new String[] {KEY_A, KEY_B, KEY_B, KEY_A, KEY_A, KEY_B, KEY_A}) {
            made.add(accounts.create(owner, "file", "file-"));
        }
        Collections.reverse(made);
        JsonNode first = list(replicas.get(0), "/v1/files?limit=3");
        List<String> walked = new ArrayList<>();
        first.get("data").forEach(f -> walked.add(f.get("id").asText()));
        int mark = accounts.seen.size();
        JsonNode second = list(replicas.get(1), "/v1/files?limit=3&after=" + first.get("last_id").asText());
        second.get("data").forEach(f -> walked.add(f.get("id").asText()));
        // The cursor came from Redis: one request per key, no walk from the start.
        assertThat(keysSince(mark)).containsExactlyInAnyOrder(KEY_A, KEY_B);
        JsonNode third = list(replicas.get(0), "/v1/files?limit=3&after=" + second.get("last_id").asText());
        third.get("data").forEach(f -> walked.add(f.get("id").asText()));
        assertThat(walked).containsExactlyElementsOf(made);
        assertThat(third.get("has_more").asBoolean()).isFalse();
    }
}
