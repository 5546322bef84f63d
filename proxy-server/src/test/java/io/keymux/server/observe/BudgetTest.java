package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Budgets from settled usage (every stub answer is 5 + 3 = 8 tokens): a key's daily budget moves
 * traffic on to the next key, a client's daily budget turns into 429 {@code budget_exceeded}.
 */
class BudgetTest extends ObserveTestBase {

    @Test
    void whenTheCheaperKeysBudgetRunsOutTheCostStrategyMovesToTheOtherKey() {
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                tasks:
                  - name: chat
                    strategy: cost
                api_keys:
                  - key_id: dear
                    api_key: ${KEY_A}
                    task_types: [chat]
                    cost_per_token: 0.01
                  - key_id: cheap
                    api_key: ${KEY_B}
                    task_types: [chat]
                    cost_per_token: 0.001
                    daily_budget_usd: 0.02
                clients:
                  - name: app
                    key: ${CLIENT_KEY}
                """));
        List<String> served = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            Answer answer = chat("chat");
            assertThat(answer.status()).isEqualTo(200);
            served.add(answer.headers().get("X-Keymux-Key-Id"));
            // The next choice depends on this answer's settled cost: wait until it is counted.
            awaitCounted(i);
        }

        // 0.008 per request on 'cheap': after three it has spent 0.024 >= 0.02.
        assertThat(served).containsExactly("cheap", "cheap", "cheap", "dear", "dear");
        JsonNode keys = adminJson("/admin/keys").get("keys");
        JsonNode dear = keys.get(0);
        JsonNode cheap = keys.get(1);
        assertThat(cheap.get("key_id").asText()).isEqualTo("cheap");
        assertThat(cheap.get("status").asText()).isEqualTo("budget_exhausted");
        assertThat(cheap.get("spend_today").asDouble()).isEqualTo(0.024);
        assertThat(dear.get("status").asText()).isEqualTo("active");
        assertThat(dear.get("spend_today").asDouble()).isEqualTo(0.16);
        JsonNode metrics = adminJson("/admin/metrics");
        assertThat(metrics.get("total_cost").asDouble()).isEqualTo(0.184);
        assertThat(sample(scrape(), "keymux_key_state{key_id=\"cheap\",state=\"budget_exhausted\"}")).isEqualTo(1.0);
        // A spent budget passes by itself: the replica stays ready.
        assertThat(admin("/readyz", null).status()).isEqualTo(200);
    }

    @Test
    void aClientOverItsDailyBudgetGets429BudgetExceededUntilUtcMidnight() {
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                tasks:
                  - name: chat
                api_keys:
                  - key_id: k1
                    api_key: ${KEY_A}
                    task_types: [chat]
                    cost_per_token: 0.001
                clients:
                  - name: app
                    key: ${CLIENT_KEY}
                    daily_budget_usd: 0.01
                """));
        assertThat(chat("chat").status()).isEqualTo(200);
        awaitCounted(1);
        assertThat(chat("chat").status()).isEqualTo(200);
        awaitCounted(2);

        // 2 x 0.008 = 0.016 >= 0.01
        Instant now = Instant.now();
        Answer refused = chat("chat");

        assertThat(refused.status()).isEqualTo(429);
        assertThat(parse(refused.body()).get("error").get("code").asText()).isEqualTo("budget_exceeded");
        long toMidnight = Duration.between(now,
                LocalDate.ofInstant(now, ZoneOffset.UTC).plusDays(1).atStartOfDay().toInstant(ZoneOffset.UTC))
                .toSeconds();
        assertThat(Long.parseLong(refused.headers().get("Retry-After"))).isBetween(toMidnight - 5, toMidnight + 5);
        assertThat(stub.recorded()).hasSize(2);
        awaitCounted(3);
        assertThat(sample(scrape(), "keymux_cost_usd_total{client=\"app\",key_id=\"k1\",task=\"chat\"}"))
                .isCloseTo(0.016, org.assertj.core.api.Assertions.within(1e-12));
    }
}
