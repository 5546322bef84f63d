package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ClientConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Client keys given as {@code key_sha256} authenticate, wrong ones do not; what reaches the upstream
 * carries the pool key and none of the client's credentials, hop-by-hop or {@code X-Keymux-*} headers.
 */
class ClientKeyAndHeaderHygieneTest extends KeymuxTestBase {
    private static final String HASHED_CLIENT_KEY = "ck-only-its-hash-is-configured";

    private static String sha256(String value) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(value.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void aClientKeyConfiguredBySha256Authenticates() throws Exception {
        startKeymux(config().client(ClientConfig.builder("hashed").keySha256(sha256(HASHED_CLIENT_KEY))).build());

        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + HASHED_CLIENT_KEY)
                .status()).isEqualTo(200);
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + HASHED_CLIENT_KEY
                + "x").status()).isEqualTo(401);
        Answer wrong = post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization",
                "Bearer " + sha256(HASHED_CLIENT_KEY));
        assertThat(wrong.status()).as("the hash itself is not a key").isEqualTo(401);
        assertThat(wrong.body()).contains("invalid_client_key").doesNotContain(HASHED_CLIENT_KEY);
        // Anthropic-style SDKs send x-api-key (the test client's Bearer header is replaced by a non-Bearer one).
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Basic none", "x-api-key",
                HASHED_CLIENT_KEY).status()).isEqualTo(200);
    }

    @Test
    void credentialsHopByHopAndKeymuxHeadersNeverReachTheUpstream() {
        startKeymux(config().build());
        stub.defaultReply(r -> UpstreamStub.Reply.json(200, UpstreamStub.CHAT_COMPLETION));

        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"),
                "x-api-key", TestConfigs.CLIENT_KEY, "api-key", TestConfigs.CLIENT_KEY,
                "Proxy-Authorization", "Basic c2VjcmV0", "Keep-Alive", "timeout=5", "TE", "trailers",
                "Upgrade", "websocket", "X-Keymux-Key-Id", "k-forged", "X-Task-Type", "chat", "X-Custom", "kept");

        assertThat(answer.status()).isEqualTo(200);
        Map<String, String> seen = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        stub.last().headers().forEach(e -> seen.put(e.getKey(), e.getValue()));
        assertThat(seen).containsEntry("Authorization", "Bearer " + TestConfigs.POOL_KEY_1)
                .containsEntry("X-Custom", "kept")
                .doesNotContainKeys("x-api-key", "api-key", "Proxy-Authorization", "Keep-Alive", "TE", "Upgrade",
                        "X-Keymux-Key-Id", "X-Task-Type");
        assertThat(stub.last().headers().toString()).doesNotContain(TestConfigs.CLIENT_KEY);
    }
}
