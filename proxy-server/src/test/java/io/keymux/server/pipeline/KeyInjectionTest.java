package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** The stub sees the injected pool key, never the client key, for every auth style. */
class KeyInjectionTest extends KeymuxTestBase {

    private void assertNoClientCredential(UpstreamStub.Recorded seen) {
        assertThat(seen.headers().toString()).doesNotContain(TestConfigs.CLIENT_KEY);
        assertThat(String.valueOf(seen.query())).doesNotContain(TestConfigs.CLIENT_KEY);
        assertThat(seen.headers().contains("x-api-key") && !seen.headers().get("x-api-key").equals(TestConfigs.POOL_KEY_1))
                .isFalse();
    }

    @Test
    void bearerReplacesTheClientsAuthorization() {
        startKeymux(config().build());
        Answer answer = post("/v1/chat/completions?api-version=1", chatBody("gpt-4o"));
        assertThat(answer.status()).isEqualTo(200);
        UpstreamStub.Recorded seen = stub.last();
        assertThat(seen.headers().get("Authorization")).isEqualTo("Bearer " + TestConfigs.POOL_KEY_1);
        assertThat(seen.query()).isEqualTo("api-version=1");
        assertThat(seen.headers().get("Host")).isEqualTo("127.0.0.1:" + stub.port());
        assertNoClientCredential(seen);
    }

    @Test
    void headerStyleSetsTheNamedHeaderAndDropsTheClientsCredentials() {
        startKeymux(config().upstream(TestConfigs.UPSTREAM, stub.baseUrl(), AuthStyle.header("x-api-key")).build());
        Answer answer = call("POST", "/v1/messages", chatBody("claude"), "x-api-key", TestConfigs.CLIENT_KEY,
                "Authorization", "Bearer " + TestConfigs.CLIENT_KEY);
        assertThat(answer.status()).isEqualTo(200);
        UpstreamStub.Recorded seen = stub.last();
        assertThat(seen.headers().get("x-api-key")).isEqualTo(TestConfigs.POOL_KEY_1);
        assertThat(seen.headers().contains("Authorization")).isFalse();
        assertNoClientCredential(seen);
    }

    @Test
    void queryStyleAppendsOrReplacesTheParameter() {
        startKeymux(config().upstream(TestConfigs.UPSTREAM, stub.baseUrl(), AuthStyle.query("key")).build());
        assertThat(post("/v1/vision?a=1&key=client-chosen", chatBody("v"), "api-key", TestConfigs.CLIENT_KEY).status())
                .isEqualTo(200);
        UpstreamStub.Recorded seen = stub.last();
        assertThat(seen.query()).isEqualTo("a=1&key=" + TestConfigs.POOL_KEY_1);
        assertThat(seen.headers().contains("Authorization")).isFalse();
        assertThat(seen.headers().contains("api-key")).isFalse();
        assertNoClientCredential(seen);
    }

    @Test
    void baseUrlWithAPathPrefixIsJoinedWithTheRequestPath() {
        startKeymux(config().upstream(TestConfigs.UPSTREAM, URI.create(stub.baseUrl() + "/openai"), AuthStyle.BEARER)
                .build());
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o")).status()).isEqualTo(200);
        assertThat(stub.last().path()).isEqualTo("/openai/v1/chat/completions");
    }

    @Test
    void hopByHopTaskAndKeymuxHeadersAreNotForwardedAndRequestIdRoundTrips() {
        startKeymux(config().build());
        Answer answer = call("POST", "/v1/chat/completions", chatBody("gpt-4o"), "X-Task-Type", "chat",
                "X-Keymux-Debug", "1", "Connection", "keep-alive, X-Secret-Hop", "X-Secret-Hop", "x",
                "Proxy-Authorization", "p", "X-Request-Id", "req-123", "X-Custom", "kept");
        assertThat(answer.status()).isEqualTo(200);
        UpstreamStub.Recorded seen = stub.last();
        assertThat(seen.headers().contains("X-Task-Type")).isFalse();
        assertThat(seen.headers().contains("X-Keymux-Debug")).isFalse();
        assertThat(seen.headers().contains("X-Secret-Hop")).isFalse();
        assertThat(seen.headers().contains("Proxy-Authorization")).isFalse();
        assertThat(seen.headers().get("X-Custom")).isEqualTo("kept");
        assertThat(seen.headers().get("X-Request-Id")).isEqualTo("req-123");
        assertThat(answer.headers().get("X-Request-Id")).isEqualTo("req-123");
        assertThat(answer.headers().get("X-Keymux-Task")).isEqualTo("chat");
        assertThat(answer.headers().get("X-Keymux-Key-Id")).isEqualTo("k1");
        assertThat(answer.headers().get("X-Keymux-Attempts")).isEqualTo("1");
    }

    @Test
    void generatedRequestIdGoesUpstreamAndBackAndKeyIdCanBeHidden() {
        startKeymux(config().server(s -> s.exposeKeyId(false)).build());
        Answer answer = post("/v1/chat/completions", chatBody("gpt-4o"));
        String id = answer.headers().get("X-Request-Id");
        assertThat(id).matches("[0-9a-f-]{36}");
        assertThat(stub.last().headers().get("X-Request-Id")).isEqualTo(id);
        assertThat(answer.headers().contains("X-Keymux-Key-Id")).isFalse();
    }

    @Test
    void nonJsonBodiesPassThroughUntouched() {
        startKeymux(config().build());
        String multipart = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
                + "\u0001\u0002binary\r\n--b--\r\n";
        Answer answer = call("POST", "/v1/files", multipart, "Content-Type", "multipart/form-data; boundary=b");
        assertThat(answer.status()).isEqualTo(200);
        assertThat(stub.last().bodyText()).isEqualTo(multipart);
        assertThat(stub.last().headers().get("Content-Type")).isEqualTo("multipart/form-data; boundary=b");
    }

    @Test
    void getWithoutBodyIsForwardedWithoutOne() {
        startKeymux(config().build());
        Answer answer = call("GET", "/v1/models", null);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(stub.last().method()).isEqualTo("GET");
        assertThat(stub.last().body()).isEmpty();
        assertThat(stub.last().headers().contains("Transfer-Encoding")).isFalse();
    }
}
