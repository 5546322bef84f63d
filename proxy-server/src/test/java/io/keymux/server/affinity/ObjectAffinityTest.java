package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.batches.Batch;
import com.openai.models.batches.BatchCreateParams;
import com.openai.models.files.FileCreateParams;
import com.openai.models.files.FileObject;
import com.openai.models.files.FilePurpose;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.TestConfigs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Provider objects stay with their key (SPEC.md section 3.9): two keys under round robin in front
 * of an upstream that keeps files, batches and responses per account, driven by the OpenAI SDK and
 * raw HTTP.
 */
class ObjectAffinityTest extends ProviderAccountsTestBase {
    private static final String KEY_A = "sk-account-a";
    private static final String KEY_B = "sk-account-b";


    @TempDir
    Path dir;

    private TestConfigs twoKeys() {
        return config().upstream(TestConfigs.UPSTREAM, accounts.baseUrl(), AuthStyle.BEARER).key("a", KEY_A, "chat")
                .key("b", KEY_B, "chat");
    }

    private OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder().baseUrl(proxyUrl() + "/v1").apiKey(TestConfigs.CLIENT_KEY).maxRetries(0)
                .build();
    }

    private Set<String> keysThatSaw(String pathPart) {
        return accounts.seen.stream().filter(s -> s.path().contains(pathPart)).map(ProviderAccounts.Seen::key)
                .collect(Collectors.toSet());
    }

    private String upload(OpenAIClient sdk, String content) throws Exception {
        Path file = Files.writeString(dir.resolve("input-" + System.nanoTime() + ".jsonl"), content);
        FileObject created = sdk.files().create(FileCreateParams.builder().file(file).purpose(FilePurpose.BATCH).build());
        return created.id();
    }

    @Test
    void anUploadedFileIsRetrievedAndReadThroughItsOwnKeyEveryTime() throws Exception {
        startKeymux(twoKeys().build());
        OpenAIClient sdk = sdk();
        String id = upload(sdk, "{\"custom_id\":\"1\"}\n");
        String owner = accounts.keyOf(id);
        for (int i = 0; i < 6; i++) {
            // Round robin alone would send every other one to the other account (404).
            assertThat(sdk.files().retrieve(id).id()).isEqualTo(id);
            Answer content = call("GET", "/v1/files/" + id + "/content", null);
            assertThat(content.status()).isEqualTo(200);
            assertThat(content.body()).isEqualTo("{\"custom_id\":\"1\"}\n");
        }
        assertThat(keysThatSaw("/v1/files/" + id)).containsExactly(owner);
    }

    @Test
    void aBatchMadeFromAFileGoesToTheFilesKeyAndStaysThere() throws Exception {
        startKeymux(twoKeys().build());
        OpenAIClient sdk = sdk();
        // Several uploads, so both keys hold files.
        List<String> files = List.of(upload(sdk, "a"), upload(sdk, "b"), upload(sdk, "c"), upload(sdk, "d"));
        assertThat(files.stream().map(accounts::keyOf).collect(Collectors.toSet())).containsExactlyInAnyOrder(KEY_A, KEY_B);
        for (String file : files) {
            Batch batch = sdk.batches().create(BatchCreateParams.builder().inputFileId(file)
                    .endpoint(BatchCreateParams.Endpoint.V1_CHAT_COMPLETIONS)
                    .completionWindow(BatchCreateParams.CompletionWindow._24H).build());
            assertThat(accounts.keyOf(batch.id())).isEqualTo(accounts.keyOf(file));
            assertThat(sdk.batches().retrieve(batch.id()).id()).isEqualTo(batch.id());
            Answer cancelled = post("/v1/batches/" + batch.id() + "/cancel", "{}");
            assertThat(cancelled.status()).isEqualTo(200);
            assertThat(cancelled.body()).contains("\"status\":\"cancelling\"");
            assertThat(cancelled.headers().get("X-Keymux-Key-Id")).isEqualTo(accounts.keyOf(file).equals(KEY_A) ? "a" : "b");
        }
    }

    @Test
    void aSevenTurnResponsesConversationKeepsItsKey() {
        startKeymux(twoKeys().build());
        OpenAIClient sdk = sdk();
        Response first = sdk.responses().create(ResponseCreateParams.builder().model("gpt-4o").input("turn 1").build());
        String previous = first.id();
        String owner = accounts.keyOf(previous);
        for (int turn = 2; turn <= 7; turn++) {
            // A turn on the other account would be 400 previous_response_not_found, which the SDK throws.
            Response next = sdk.responses().create(ResponseCreateParams.builder().model("gpt-4o")
                    .input("turn " + turn).previousResponseId(previous).build());
            assertThat(accounts.keyOf(next.id())).isEqualTo(owner);
            previous = next.id();
        }
        assertThat(sdk.responses().retrieve(previous).id()).isEqualTo(previous);
        assertThat(keysThatSaw("/v1/responses")).containsExactly(owner);
    }

    @Test
    void streamedTurnsAreRememberedFromTheirResponseCreatedEvent() {
        startKeymux(twoKeys().build());
        String previous = null;
        String owner = null;
        for (int turn = 1; turn <= 7; turn++) {
            boolean stream = turn % 2 == 1;
            String body = "{\"model\":\"gpt-4o\",\"input\":\"turn " + turn + "\",\"stream\":" + stream
                    + (previous == null ? "" : ",\"previous_response_id\":\"" + previous + "\"") + "}";
            Answer answer = post("/v1/responses", body);
            assertThat(answer.status()).as(answer.body()).isEqualTo(200);
            String id = idIn(answer.body());
            if (owner == null) {
                owner = accounts.keyOf(id);
            }
            assertThat(accounts.keyOf(id)).isEqualTo(owner);
            previous = id;
        }
    }

    private static String idIn(String body) {
        int at = body.indexOf("\"id\":\"resp_");
        return body.substring(at + 6, body.indexOf('"', at + 6));
    }

    @Test
    void anIdMadeBeforeKeymuxIsFoundOnItsKeyAndThenRemembered() {
        String onB = accounts.create(KEY_B, "file", "file-");
        String onA = accounts.create(KEY_A, "file", "file-");
        startKeymux(twoKeys().build());
        for (String id : List.of(onB, onA)) {
            Answer found = call("GET", "/v1/files/" + id, null);
            assertThat(found.status()).as(found.body()).isEqualTo(200);
            assertThat(found.body()).contains(id);
        }
        int before = accounts.seen.size();
        for (int i = 0; i < 4; i++) {
            assertThat(call("GET", "/v1/files/" + onB, null).status()).isEqualTo(200);
        }
        // Remembered: one upstream request each, all on b.
        assertThat(accounts.seen.subList(before, accounts.seen.size())).extracting(ProviderAccounts.Seen::key)
                .containsOnly(KEY_B).hasSize(4);
        String metrics = keymux.metrics().scrape();
        assertThat(metrics).contains("keymux_affinity_total{result=\"unknown\",task=\"chat\"} 2.0")
                .contains("keymux_affinity_total{result=\"discovered\",task=\"chat\"} 2.0")
                .contains("keymux_affinity_total{result=\"pinned\",task=\"chat\"} 4.0");
    }

    @Test
    void anIdNoAccountHasGetsTheProvidersOwn404() {
        startKeymux(twoKeys().build());
        Answer missing = call("GET", "/v1/files/file-nowhere", null);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.body()).contains("No such File object: file-nowhere");
        assertThat(keysThatSaw("file-nowhere")).containsExactlyInAnyOrder(KEY_A, KEY_B);
    }

    @Test
    void anUnknownPreviousResponseIsSearchedForToo() {
        String onB = accounts.create(KEY_B, "response", "resp_");
        startKeymux(twoKeys().build());
        for (int i = 0; i < 3; i++) {
            Answer answer = post("/v1/responses",
                    "{\"model\":\"gpt-4o\",\"input\":\"more\",\"previous_response_id\":\"" + onB + "\"}");
            assertThat(answer.status()).as(answer.body()).isEqualTo(200);
            assertThat(answer.headers().get("X-Keymux-Key-Id")).isEqualTo("b");
        }
    }

    @Test
    void anObjectWhoseKeyWasRemovedIs409() throws Exception {
        startKeymux(twoKeys().build());
        OpenAIClient sdk = sdk();
        String id = upload(sdk, "x");
        String ownerId = accounts.keyOf(id).equals(KEY_A) ? "a" : "b";
        String other = ownerId.equals("a") ? "b" : "a";
        var without = config().upstream(TestConfigs.UPSTREAM, accounts.baseUrl(), AuthStyle.BEARER)
                .key(other, other.equals("a") ? KEY_A : KEY_B, "chat").build();
        assertThat(keymux.reload(without)).isInstanceOf(io.keymux.server.reload.ReloadResult.Applied.class);
        Answer gone = call("GET", "/v1/files/" + id, null);
        assertThat(gone.status()).isEqualTo(409);
        assertThat(gone.body()).contains("\"code\":\"resource_key_removed\"").contains("'" + ownerId + "'")
                .doesNotContain(KEY_A).doesNotContain(KEY_B);
    }

    @Test
    void deletingAnObjectForgetsIt() throws Exception {
        startKeymux(twoKeys().build());
        OpenAIClient sdk = sdk();
        String id = upload(sdk, "x");
        assertThat(sdk.files().delete(id).deleted()).isTrue();
        int before = accounts.seen.size();
        Answer after = call("GET", "/v1/files/" + id, null);
        assertThat(after.status()).isEqualTo(404);
        // Forgotten: searched on both keys again rather than pinned to the old one.
        assertThat(accounts.seen.subList(before, accounts.seen.size())).hasSize(2);
        assertThat(after.body()).contains("No such File object").doesNotContain("keymux_error");
        assertThat(after.body().getBytes(StandardCharsets.UTF_8)).isNotEmpty();
    }
}
