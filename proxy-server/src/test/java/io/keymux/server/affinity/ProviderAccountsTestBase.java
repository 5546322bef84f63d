package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.server.testing.KeymuxTestBase;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * keymux in front of a fresh {@link ProviderAccounts} upstream per test, and the list reading the
 * object and list-union tests share.
 */
abstract class ProviderAccountsTestBase extends KeymuxTestBase {
    static final ObjectMapper JSON = new ObjectMapper();

    ProviderAccounts accounts;

    @BeforeEach
    void startAccounts() {
        accounts = new ProviderAccounts();
    }

    @AfterEach
    void stopAccounts() {
        accounts.close();
    }

    /** {@code GET /v1/files} with {@code query} through keymux, required to answer 200. */
    JsonNode listFiles(String query) throws Exception {
        Answer answer = call("GET", "/v1/files" + query, null);
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    /** The ids of a list page's {@code data}, in order. */
    static List<String> ids(JsonNode page) {
        List<String> ids = new ArrayList<>();
        page.get("data").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }
}
