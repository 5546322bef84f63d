package io.keymux.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.server.observe.AuditCapture;
import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A hit is free (SPEC.md section 3.8): no key capacity, tokens or cost; counted, audited, no secret shown. */
class CacheAccountingTest extends CacheTestBase {

    private JsonNode key() {
        Answer keys = admin(HttpMethod.GET, "/admin/keys", ADMIN_TOKEN);
        assertThat(keys.status()).isEqualTo(200);
        return parse(keys.body()).get("keys").get(0);
    }

    @Test
    void hitsUseNoKeyCapacityTokensOrCostAndAreCountedWithTheMoneySaved() {
        start("");
        chat("chat", BODY);
        JsonNode before = key();
        for (int i = 0; i < 5; i++) {
            assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        }
        chat("chat", BODY, "Cache-Control", "no-store");
        chat("plain", BODY);

        JsonNode after = key();
        // One more request each for the bypass and the plain task, none for the five hits.
        assertThat(after.get("usage").get("rpm").asLong()).isEqualTo(before.get("usage").get("rpm").asLong() + 2);
        // The stub's answer: 5 prompt + 3 completion tokens at 0.001 USD each.
        assertThat(after.get("spend_today").asDouble()).isEqualTo(0.024, org.assertj.core.data.Offset.offset(1e-9));

        String metrics = scrape();
        assertThat(sample(metrics, "keymux_cache_requests_total{result=\"hit\",task=\"chat\"}")).isEqualTo(5.0);
        assertThat(sample(metrics, "keymux_cache_requests_total{result=\"miss\",task=\"chat\"}")).isEqualTo(1.0);
        assertThat(sample(metrics, "keymux_cache_requests_total{result=\"bypass\",task=\"chat\"}")).isEqualTo(1.0);
        assertThat(metrics).doesNotContain("keymux_cache_requests_total{result=\"off\"");
        assertThat(sample(metrics, "keymux_cache_saved_cost_usd_total{task=\"chat\"}"))
                .isCloseTo(5 * 0.008, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(sample(metrics, "keymux_tokens_total{key_id=\"k1\",kind=\"completion\",task=\"chat\"}"))
                .isEqualTo(6.0);
        assertThat(sample(metrics, "keymux_cache_bytes")).isGreaterThan((double) BODY.length());
    }

    @Test
    void theAuditLineSaysHitMissBypassOrOffWithNoKeyAndNoCostForAHitAndNoSecretAnywhere() {
        List<String> lines;
        String metrics;
        try (AuditCapture audit = new AuditCapture()) {
            start("");
            chat("chat", BODY);
            chat("chat", BODY);
            chat("chat", BODY, "Cache-Control", "no-cache");
            chat("plain", BODY);
            metrics = scrape();
            keymux.close();
            lines = audit.lines();
        }
        assertThat(lines).hasSize(4);
        JsonNode miss = parse(lines.get(0));
        JsonNode hit = parse(lines.get(1));
        assertThat(miss.get("cache").asText()).isEqualTo("miss");
        assertThat(miss.get("key_id").asText()).isEqualTo("k1");
        assertThat(hit.get("cache").asText()).isEqualTo("hit");
        assertThat(hit.get("key_id").isNull()).isTrue();
        assertThat(hit.get("cost_usd").isNull()).isTrue();
        assertThat(hit.get("attempts").asInt()).isZero();
        assertThat(hit.get("status").asInt()).isEqualTo(200);
        assertThat(hit.get("client").asText()).isEqualTo("app");
        assertThat(parse(lines.get(2)).get("cache").asText()).isEqualTo("bypass");
        assertThat(parse(lines.get(3)).get("cache").asText()).isEqualTo("off");

        String everything = String.join("\n", lines) + metrics;
        assertThat(everything).doesNotContain(APP_KEY, POOL_KEY, ADMIN_TOKEN, "\"hi\"");
    }
}
