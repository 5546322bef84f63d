package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.config.testing.TestConfigs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A task whose keys belong to two providers (SPEC.md section 3.9): OpenAI's API, paged with
 * {@code after} and dated in Unix seconds, and Anthropic's, paged with {@code after_id} and dated
 * in RFC 3339, behind one list. The union is one newest-first order across both, every page
 * continues each key under its own provider's cursor name, and a listed object is then retrieved
 * from its own account in its provider's auth style.
 */
class ListUnionAcrossProvidersTest extends ProviderAccountsTestBase {
    private static final String OPENAI_KEY = "sk-openai-account";
    private static final String ANTHROPIC_KEY = "sk-ant-api03-account";

    @TempDir
    Path dir;


    private void startMixedTask() {
        startKeymux(TestConfigs.yaml(dir, """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1 }
                upstreams:
                  openai: { base_url: "%1$s", auth: bearer }
                  anthropic: { base_url: "%1$s", auth: "header:x-api-key" }
                default_upstream: openai
                default_task: files
                tasks:
                  - name: files
                api_keys:
                  - { key_id: oa, api_key: "${OPENAI_KEY}", task_types: [files] }
                  - { key_id: ant, api_key: "${ANTHROPIC_KEY}", task_types: [files], upstream: anthropic }
                clients:
                  - { name: app, key: "${CLIENT_KEY}" }
                """.formatted(accounts.baseUrl()),
                Map.of("OPENAI_KEY", OPENAI_KEY, "ANTHROPIC_KEY", ANTHROPIC_KEY, "CLIENT_KEY", TestConfigs.CLIENT_KEY)));
    }

    /** 9 files, oldest first, made alternately in runs on either account before keymux. */
    private List<String> makeFiles() {
        List<String> made = new ArrayList<>();
        for (char owner : "OOAOAAOAO".toCharArray()) {
            made.add(owner == 'O' ? accounts.create(OPENAI_KEY, "file", "file-")
                    : accounts.createAnthropicFile(ANTHROPIC_KEY));
        }
        Collections.reverse(made);
        return made;
    }

    @Test
    void pagingTheUnionWalksBothProvidersNewestFirstWithoutGapsOrRepeats() throws Exception {
        List<String> newestFirst = makeFiles();
        startMixedTask();
        List<String> walked = new ArrayList<>();
        JsonNode page = listFiles("?limit=2");
        walked.addAll(ids(page));
        int pages = 1;
        while (page.get("has_more").asBoolean()) {
            assertThat(pages++).as("pages walked").isLessThan(10);
            page = listFiles("?limit=2&after=" + page.get("last_id").asText());
            walked.addAll(ids(page));
        }
        // Without each key's own cursor name, Anthropic's key ignores `after` and starts over each page.
        assertThat(walked).containsExactlyElementsOf(newestFirst);
        assertThat(pages).isEqualTo(5);
    }

    @Test
    void theUnionInterleavesUnixSecondsAndRfc3339TimesInOneOrder() throws Exception {
        List<String> newestFirst = makeFiles();
        startMixedTask();
        JsonNode all = listFiles("?limit=20");
        assertThat(ids(all)).containsExactlyElementsOf(newestFirst);
        assertThat(all.get("has_more").asBoolean()).isFalse();
        // Each object comes back as its own provider wrote it.
        JsonNode anthropicFile = all.get("data").get(1);
        assertThat(anthropicFile.get("type").asText()).isEqualTo("file");
        assertThat(anthropicFile.get("created_at").isTextual()).isTrue();
        assertThat(all.get("data").get(0).get("created_at").isNumber()).isTrue();
    }

    @Test
    void aListedObjectIsRetrievedFromItsOwnAccountInItsProvidersAuthStyle() throws Exception {
        List<String> newestFirst = makeFiles();
        startMixedTask();
        listFiles("?limit=20");
        int before = accounts.seen.size();
        for (String id : newestFirst) {
            Answer answer = call("GET", "/v1/files/" + id, null);
            assertThat(answer.status()).as(id + ": " + answer.body()).isEqualTo(200);
            assertThat(JSON.readTree(answer.body()).get("id").asText()).isEqualTo(id);
        }
        List<ProviderAccounts.Seen> retrievals = accounts.seen.subList(before, accounts.seen.size());
        assertThat(retrievals).hasSize(newestFirst.size());
        for (ProviderAccounts.Seen seen : retrievals) {
            String id = seen.path().substring("/v1/files/".length());
            assertThat(seen.key()).as(id).isEqualTo(accounts.keyOf(id));
        }
    }
}
