package io.keymux.server.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.UpstreamConfig;
import java.net.URI;
import org.junit.jupiter.api.Test;

class UpstreamTargetTest {

    private static UpstreamConfig upstream(String base, AuthStyle auth) {
        return new UpstreamConfig("u", URI.create(base), auth);
    }

    @Test
    void joinsBasePathPrefixAndKeepsTheQuery() {
        UpstreamTarget t = UpstreamTarget.of(upstream("https://x.example/openai", AuthStyle.BEARER),
                "/v1/chat", "a=1&b=2", "sk-1");
        assertThat(t.uri()).isEqualTo("https://x.example/openai/v1/chat?a=1&b=2");
        assertThat(t.hostHeader()).isEqualTo("x.example");
    }

    @Test
    void joinsAPathWithoutALeadingSlashAtASegmentBoundary() {
        UpstreamConfig prefixed = upstream("https://x.example/prefix/", AuthStyle.BEARER);
        assertThat(UpstreamTarget.of(prefixed, "v1/chat", null, "k").uri()).isEqualTo("https://x.example/prefix/v1/chat");
        assertThat(UpstreamTarget.of(prefixed, "", null, "k").uri()).isEqualTo("https://x.example/prefix");
        assertThat(UpstreamTarget.of(upstream("https://x.example", AuthStyle.BEARER), "", "a=1", "k").uri())
                .isEqualTo("https://x.example/?a=1");
    }

    @Test
    void keepsAnExplicitPortInTheHostHeader() {
        UpstreamTarget t = UpstreamTarget.of(upstream("http://127.0.0.1:8081/", AuthStyle.BEARER), "/v1", null, "k");
        assertThat(t.uri()).isEqualTo("http://127.0.0.1:8081/v1");
        assertThat(t.hostHeader()).isEqualTo("127.0.0.1:8081");
    }

    @Test
    void queryStyleAppendsOrReplacesTheEncodedKey() {
        AuthStyle q = AuthStyle.query("key");
        assertThat(UpstreamTarget.of(upstream("https://v.example", q), "/a", null, "k&1=").uri())
                .isEqualTo("https://v.example/a?key=k%261%3D");
        assertThat(UpstreamTarget.of(upstream("https://v.example", q), "/a", "x=1&key=mine&y=2", "k").uri())
                .isEqualTo("https://v.example/a?x=1&y=2&key=k");
    }

    @Test
    void toStringHidesTheQueryWhichMayHoldTheKey() {
        UpstreamTarget t = UpstreamTarget.of(upstream("https://v.example", AuthStyle.query("key")), "/a", null,
                "secret-key");
        assertThat(t.toString()).doesNotContain("secret-key");
    }
}
