package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.server.testing.UpstreamStub.Reply;
import org.junit.jupiter.api.Test;

/** {@code /readyz}: disabled keys and draining make a replica unready; cooldowns do not; Redis trouble degrades. */
class ReadinessTest extends ObserveTestBase {

    private static final String CONFIG = """
            tasks:
              - name: chat
              - name: other
            api_keys:
              - key_id: c1
                api_key: ${KEY_A}
                task_types: [chat]
              - key_id: c2
                api_key: ${KEY_B}
                task_types: [chat]
              - key_id: o1
                api_key: ${KEY_B}
                task_types: [other]
            clients:
              - name: app
                key: ${CLIENT_KEY}
            """;

    @Test
    void aTaskWhoseKeysAreAllDisabledMakesTheReplicaUnready() {
        startKeymux(yaml(CONFIG));
        stub.enqueue(Reply.json(401, "{\"error\":\"bad key\"}")).enqueue(Reply.json(401, "{\"error\":\"bad key\"}"));

        assertThat(chat("chat").status()).isEqualTo(502);
        awaitCounted(1);

        Answer ready = admin("/readyz", null);
        assertThat(ready.status()).isEqualTo(503);
        JsonNode body = parse(ready.body());
        assertThat(body.get("status").asText()).isEqualTo("unready");
        assertThat(body.get("reasons")).hasSize(1);
        assertThat(body.get("reasons").get(0).asText()).contains("'chat'").contains("disabled");
        assertThat(chat("other").status()).isEqualTo(200);
    }

    @Test
    void aCoolingKeyLeavesTheReplicaReady() {
        startKeymux(yaml(CONFIG));
        stub.enqueue(Reply.json(429, "{}").withHeader("Retry-After", "60"));

        assertThat(chat("other").status()).isEqualTo(429);
        awaitCounted(1);

        Answer ready = admin("/readyz", null);
        assertThat(ready.status()).isEqualTo(200);
        assertThat(parse(ready.body()).get("status").asText()).isEqualTo("ready");
        assertThat(parse(ready.body()).get("reasons")).isEmpty();
    }

    @Test
    void aDegradedComponentAnswers200Degraded() {
        startKeymux(yaml(CONFIG));
        keymux.readinessSignals().degraded("redis", "redis unreachable: local limits in use");

        Answer degraded = admin("/readyz", null);
        assertThat(degraded.status()).isEqualTo(200);
        assertThat(parse(degraded.body()).get("status").asText()).isEqualTo("degraded");
        assertThat(parse(degraded.body()).get("reasons").get(0).asText()).contains("redis unreachable");

        keymux.readinessSignals().recovered("redis");
        assertThat(parse(admin("/readyz", null).body()).get("status").asText()).isEqualTo("ready");
    }

    @Test
    void drainingIsUnready() {
        startKeymux(yaml(CONFIG));
        keymux.beginDrain();

        Answer ready = admin("/readyz", null);

        assertThat(ready.status()).isEqualTo(503);
        assertThat(parse(ready.body()).get("reasons").get(0).asText()).contains("draining");
        assertThat(admin("/healthz", null).status()).isEqualTo(200);
    }
}
