package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.files.FileListParams;
import com.openai.models.files.FileObject;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.TestConfigs;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * List requests are the union over the task's keys (SPEC.md section 3.9): newest first across
 * accounts, cut to {@code limit}, {@code has_more} right, and {@code after} continuing the union
 * without gaps or repeats, driven by the OpenAI SDK's auto-pagination and raw HTTP against an
 * upstream that keeps each account's files and batches apart.
 */
class ListUnionTest extends ProviderAccountsTestBase {
    private static final String KEY_A = "sk-account-a";
    private static final String KEY_B = "sk-account-b";
    private static final String KEY_C = "sk-account-c";

    /** Every file made, oldest first (the stub's clock gives each a later created_at). */
    private final List<String> made = new ArrayList<>();

    private TestConfigs threeKeys() {
        return config().upstream(TestConfigs.UPSTREAM, accounts.baseUrl(), AuthStyle.BEARER).key("a", KEY_A, "chat")
                .key("b", KEY_B, "chat").key("c", KEY_C, "chat");
    }

    /** 12 files spread unevenly (a run on one account, then interleaved), made before keymux. */
    private void makeFiles() {
        String[] owners = {KEY_A, KEY_A, KEY_A, KEY_B, KEY_A, KEY_B, KEY_C, KEY_B, KEY_A, KEY_C, KEY_B, KEY_A};
        for (String owner : owners) {
            made.add(accounts.create(owner, "file", "file-"));
        }
    }

    private List<String> newestFirst() {
        List<String> ids = new ArrayList<>(made);
        java.util.Collections.reverse(ids);
        return ids;
    }

    private OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder().baseUrl(proxyUrl() + "/v1").apiKey(TestConfigs.CLIENT_KEY).maxRetries(0)
                .build();
    }

    @Test
    void theSdksAutoPaginationWalksEveryAccountsFilesNewestFirstOnce() {
        makeFiles();
        startKeymux(threeKeys().build());
        List<String> walked = sdk().files().list(FileListParams.builder().limit(5).build()).autoPager().stream()
                .map(FileObject::id).collect(Collectors.toList());
        assertThat(walked).containsExactlyElementsOf(newestFirst());
    }

    @Test
    void pagesAreCutToTheLimitWithHasMoreAndFirstAndLastIds() throws Exception {
        makeFiles();
        startKeymux(threeKeys().build());
        List<String> expected = newestFirst();
        JsonNode first = listFiles("?limit=5");
        assertThat(ids(first)).containsExactlyElementsOf(expected.subList(0, 5));
        assertThat(first.get("has_more").asBoolean()).isTrue();
        assertThat(first.get("object").asText()).isEqualTo("list");
        assertThat(first.get("first_id").asText()).isEqualTo(expected.get(0));
        assertThat(first.get("last_id").asText()).isEqualTo(expected.get(4));
        JsonNode second = listFiles("?limit=5&after=" + expected.get(4));
        assertThat(ids(second)).containsExactlyElementsOf(expected.subList(5, 10));
        assertThat(second.get("has_more").asBoolean()).isTrue();
        JsonNode third = listFiles("?limit=5&after=" + expected.get(9));
        assertThat(ids(third)).containsExactlyElementsOf(expected.subList(10, 12));
        assertThat(third.get("has_more").asBoolean()).isFalse();
    }

    @Test
    void withoutALimitEachAccountsDefaultPageIsMerged() throws Exception {
        makeFiles();
        startKeymux(threeKeys().build());
        // The stub's default page (20) holds every account's files: the union is all 12.
        JsonNode all = listFiles("");
        assertThat(ids(all)).containsExactlyElementsOf(newestFirst());
        assertThat(all.get("has_more").asBoolean()).isFalse();
    }

    @Test
    void aCursorThisReplicaNeverHandedOutIsFoundByWalkingTheUnion() throws Exception {
        makeFiles();
        startKeymux(threeKeys().build());
        List<String> expected = newestFirst();
        // As a client would after another replica (local backend) or a restart gave it page one.
        JsonNode page = listFiles("?limit=4&after=" + expected.get(2));
        assertThat(ids(page)).containsExactlyElementsOf(expected.subList(3, 7));
        Answer nowhere = call("GET", "/v1/files?limit=4&after=file-nowhere", null);
        assertThat(nowhere.status()).isEqualTo(400);
        assertThat(nowhere.body()).contains("\"code\":\"bad_request\"").doesNotContain("file-nowhere");
    }

    @Test
    void aListedFileIsThenRetrievedFromItsOwnAccountAtOnce() throws Exception {
        makeFiles();
        startKeymux(threeKeys().build());
        listFiles("?limit=20");
        int before = accounts.seen.size();
        for (String id : made) {
            assertThat(call("GET", "/v1/files/" + id, null).status()).isEqualTo(200);
        }
        // Remembered from the list: one upstream request per retrieval, no search.
        assertThat(accounts.seen.subList(before, accounts.seen.size())).hasSize(made.size());
    }

    @Test
    void batchesAreListedAsAUnionToo() throws Exception {
        List<String> batches = new ArrayList<>();
        for (String owner : new String[] {KEY_B, KEY_A, KEY_C, KEY_A}) {
            batches.add(accounts.create(owner, "batch", "batch_"));
        }
        startKeymux(threeKeys().build());
        java.util.Collections.reverse(batches);
        Answer answer = call("GET", "/v1/batches?limit=3", null);
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        JsonNode page = JSON.readTree(answer.body());
        assertThat(ids(page)).containsExactlyElementsOf(batches.subList(0, 3));
        assertThat(page.get("has_more").asBoolean()).isTrue();
        assertThat(answer.headers().get("X-Keymux-Attempts")).isEqualTo("3");
    }

    @Test
    void aBadLimitAndABackwardsCursorAreClearErrors() {
        startKeymux(threeKeys().build());
        Answer bad = call("GET", "/v1/files?limit=-3", null);
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.body()).contains("limit must be a positive whole number");
        Answer backwards = call("GET", "/v1/files?before=file-1", null);
        assertThat(backwards.status()).isEqualTo(400);
        assertThat(backwards.body()).contains("use after, not before");
    }

    @Test
    void aTaskWithOneKeyGetsItsProvidersListUnchanged() throws Exception {
        String only = accounts.create(KEY_A, "file", "file-");
        startKeymux(config().upstream(TestConfigs.UPSTREAM, accounts.baseUrl(), AuthStyle.BEARER)
                .key("a", KEY_A, "chat").build());
        int before = accounts.seen.size();
        JsonNode page = listFiles("?limit=2");
        assertThat(ids(page)).containsExactly(only);
        assertThat(accounts.seen.subList(before, accounts.seen.size())).hasSize(1);
    }
}
