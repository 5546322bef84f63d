package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The admin token, the open routes, and the shapes of {@code /admin/health} and {@code /admin/recommendations}. */
class AdminApiTest extends ObserveTestBase {

    private static final String ONE_KEY = """
            tasks:
              - name: chat
            api_keys:
              - key_id: only
                api_key: ${KEY_A}
                task_types: [chat]
            clients:
              - name: app
                key: ${CLIENT_KEY}
            """;

    private static final String[] ADMIN_PATHS = {"/admin/metrics", "/admin/keys", "/admin/health",
            "/admin/recommendations"};

    @Test
    void adminNeedsTheBearerToken() {
        startKeymux(yaml("admin: { token: \"${ADMIN_TOKEN}\" }\n" + ONE_KEY));
        for (String path : ADMIN_PATHS) {
            Answer none = admin(path, null);
            assertThat(none.status()).as(path).isEqualTo(401);
            assertThat(none.headers().get("WWW-Authenticate")).startsWith("Bearer");
            assertThat(parse(none.body()).get("error").get("code").asText()).isEqualTo("invalid_admin_token");
            assertThat(admin(path, "not-the-token").status()).as(path).isEqualTo(401);
            assertThat(admin(path, ADMIN_TOKEN + "x").status()).as(path).isEqualTo(401);
            assertThat(adminCall(path, "Basic " + ADMIN_TOKEN).status()).as(path).isEqualTo(401);
            assertThat(adminCall(path, ADMIN_TOKEN).status()).as(path).isEqualTo(401);
            Answer ok = admin(path, ADMIN_TOKEN);
            assertThat(ok.status()).as(path).isEqualTo(200);
            assertThat(ok.headers().get("Content-Type")).isEqualTo("application/json");
        }
    }

    @Test
    void adminAnswers403WithoutAConfiguredToken() {
        startKeymux(yaml(ONE_KEY));
        for (String path : ADMIN_PATHS) {
            Answer answer = admin(path, "anything");
            assertThat(answer.status()).as(path).isEqualTo(403);
            assertThat(parse(answer.body()).get("error").get("code").asText()).isEqualTo("admin_disabled");
            assertThat(admin(path, null).status()).as(path).isEqualTo(403);
        }
    }

    @Test
    void probesMetricsAndDashboardAreOpen() {
        startKeymux(yaml("admin: { token: \"${ADMIN_TOKEN}\" }\n" + ONE_KEY));
        assertThat(admin("/healthz", null).status()).isEqualTo(200);
        Answer ready = admin("/readyz", null);
        assertThat(ready.status()).isEqualTo(200);
        assertThat(parse(ready.body()).get("status").asText()).isEqualTo("ready");
        assertThat(admin("/metrics", null).status()).isEqualTo(200);
        Answer page = admin("/", null);
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.headers().get("Content-Type")).isEqualTo("text/html; charset=utf-8");
        assertThat(page.body()).contains("/admin/keys").doesNotContain(ADMIN_TOKEN);
    }

    @Test
    void aSingleKeyTaskGetsTheNoRedundancyRecommendation() {
        startKeymux(yaml("admin: { token: \"${ADMIN_TOKEN}\" }\n" + ONE_KEY));
        assertThat(chat("chat").status()).isEqualTo(200);
        awaitCounted(1);

        JsonNode body = adminJson("/admin/recommendations");

        List<String> fields = new ArrayList<>();
        body.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("optimization_score", "recommendations");
        assertThat(body.get("optimization_score").asInt()).isEqualTo(90);
        JsonNode recommendations = body.get("recommendations");
        assertThat(recommendations).hasSize(1);
        JsonNode r = recommendations.get(0);
        assertThat(r.get("type").asText()).isEqualTo("no_redundancy");
        assertThat(r.get("key_id").asText()).isEqualTo("only");
        assertThat(r.get("task").asText()).isEqualTo("chat");
        assertThat(r.get("message").asText()).contains("chat").contains("single key");
    }

    @Test
    void healthScoresAllKeysActiveAndEverythingAnsweredAsHealthy() {
        startKeymux(yaml("admin: { token: \"${ADMIN_TOKEN}\" }\n" + ONE_KEY));
        assertThat(chat("chat").status()).isEqualTo(200);
        awaitCounted(1);

        JsonNode health = adminJson("/admin/health");

        List<String> fields = new ArrayList<>();
        health.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("status", "health_score", "api_key_status", "replicas");
        // The local backend shares nothing: this replica alone (SPEC.md section 5).
        assertThat(health.get("replicas").asInt()).isEqualTo(1);
        assertThat(health.get("status").asText()).isEqualTo("healthy");
        assertThat(health.get("health_score").asInt()).isEqualTo(100);
        assertThat(health.get("api_key_status").get("active_keys").asInt()).isEqualTo(1);
        assertThat(health.get("api_key_status").get("total_keys").asInt()).isEqualTo(1);
    }
}
