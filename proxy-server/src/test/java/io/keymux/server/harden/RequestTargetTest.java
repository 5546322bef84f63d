package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.RawHttp;
import java.io.IOException;
import java.net.URI;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SPEC.md section 3.5: only an origin-form request target is forwarded. Each request line is
 * written byte for byte over a raw socket (a client library would normalise it), and each is
 * refused with 400 {@code bad_request} before it reaches the upstream; a target that is fine is
 * joined to the upstream's {@code base_url} path at a segment boundary.
 */
class RequestTargetTest extends KeymuxTestBase {
    private static final String AUTH = "Authorization: Bearer " + TestConfigs.CLIENT_KEY + "\r\n";

    static Stream<String> refusedTargets() {
        return Stream.of(
                "http://127.0.0.1:1/v1/models", // absolute-form
                "https://evil.example/v1/models",
                "evil.example:443", // authority-form
                "*",
                "@evil.example/v1/models",
                "v1/models", // no leading slash: would be glued into the base path
                "//evil.example/v1/models", // network-path reference
                "/\\evil.example/v1/models",
                "/v1/models\\..\\..\\admin",
                "/v1/models%5c..%5cadmin",
                "/%2f%2fevil.example/v1/models",
                "/v1/../admin",
                "/v1/..",
                "/v1/./models",
                "/v1/%2e%2e/admin",
                "/v1/%2E%2E%2fadmin",
                "/v1/..%2fadmin",
                "/v1/..%2Fadmin",
                "/v1/.%2e/admin",
                "/v1/..;/admin",
                "/v1/..;jsessionid=1/admin",
                "/v1/%252e%252e/admin", // decoded twice by some stacks
                "/v1/models%00.json",
                "/tasks/chat/../v1/models",
                "/v1/models#fragment");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedTargets")
    void aTargetThatIsNotAPlainOriginFormPathIsRefusedBeforeTheUpstream(String target) throws IOException {
        startKeymux(config().build());

        String answer = RawHttp.exchange(keymux.proxyPort(),
                "GET " + target + " HTTP/1.1\r\nHost: keymux\r\n" + AUTH + "Connection: close\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 400 ");
        assertThat(answer).containsIgnoringCase("content-type: application/json")
                .contains("\"type\":\"keymux_error\"").contains("\"code\":\"bad_request\"");
        assertThat(answer).doesNotContain(TestConfigs.CLIENT_KEY).doesNotContain(TestConfigs.POOL_KEY_1);
        assertThat(stub.recorded()).as("nothing reached the upstream").isEmpty();
    }

    @Test
    void anOriginFormTargetIsJoinedToTheBasePathAtASegmentBoundaryWithItsQuery() throws IOException {
        startKeymux(config().upstream(TestConfigs.UPSTREAM, URI.create(stub.baseUrl() + "/prefix/"), AuthStyle.BEARER)
                .build());

        // Dots inside a segment and in the query are no dot segments.
        String answer = RawHttp.exchange(keymux.proxyPort(), "GET /v1/models/gpt-4.1..x?after=../a&b=%2e%2e"
                + " HTTP/1.1\r\nHost: keymux\r\n" + AUTH + "Connection: close\r\n\r\n");

        assertThat(RawHttp.status(answer)).isEqualTo(200);
        assertThat(stub.last().path()).isEqualTo("/prefix/v1/models/gpt-4.1..x");
        assertThat(stub.last().query()).isEqualTo("after=../a&b=%2e%2e");
    }

    @Test
    void theTaskPrefixIsStrippedAndTheRestJoinedUnderTheBasePath() throws IOException {
        startKeymux(config().upstream(TestConfigs.UPSTREAM, URI.create(stub.baseUrl() + "/prefix"), AuthStyle.BEARER)
                .build());

        String answer = RawHttp.exchange(keymux.proxyPort(), "GET /tasks/chat/v1/models HTTP/1.1\r\nHost: keymux\r\n"
                + AUTH + "Connection: close\r\n\r\n");

        assertThat(RawHttp.status(answer)).isEqualTo(200);
        assertThat(stub.last().path()).isEqualTo("/prefix/v1/models");
    }
}
