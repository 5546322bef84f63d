package io.keymux.server.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.UpstreamConfig;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import org.junit.jupiter.api.Test;

class HeaderRewriteTest {
    private static final UpstreamTarget TARGET = UpstreamTarget.of(
            new UpstreamConfig("u", URI.create("https://api.example"), AuthStyle.BEARER), "/v1", null, "k");

    @Test
    void towardsUpstreamDropsCredentialsHopByHopTaskAndKeymuxHeaders() {
        HttpHeaders client = new DefaultHttpHeaders()
                .add("Authorization", "Bearer client")
                .add("x-api-key", "client")
                .add("api-key", "client")
                .add("Connection", "keep-alive, X-Hop")
                .add("X-Hop", "1")
                .add("Keep-Alive", "timeout=5")
                .add("Proxy-Authorization", "p")
                .add("TE", "trailers")
                .add("Trailer", "x")
                .add("Transfer-Encoding", "chunked")
                .add("Upgrade", "h2c")
                .add("X-Task-Type", "chat")
                .add("X-Keymux-Anything", "1")
                .add("Host", "keymux:8080")
                .add("Expect", "100-continue")
                .add("Accept", "text/event-stream");
        HttpHeaders out = HeaderRewrite.towardsUpstream(client, "X-Task-Type", TARGET, AuthStyle.header("x-goog-key"),
                "pool", "rid", 12);
        assertThat(out.names()).containsExactlyInAnyOrder("Accept", "host", "X-Request-Id", "content-length",
                "x-goog-key", "accept-encoding");
        assertThat(out.get("Accept-Encoding")).isEqualTo("identity");
        assertThat(out.get("Host")).isEqualTo("api.example");
        assertThat(out.get("x-goog-key")).isEqualTo("pool");
        assertThat(out.get("Content-Length")).isEqualTo("12");
    }

    @Test
    void bearerInjectsAuthorization() {
        HttpHeaders out = HeaderRewrite.towardsUpstream(new DefaultHttpHeaders(), "X-Task-Type", TARGET,
                AuthStyle.BEARER, "pool", "rid", 0);
        assertThat(out.get("Authorization")).isEqualTo("Bearer pool");
        assertThat(out.contains("Content-Length")).isFalse();
    }

    @Test
    void towardsClientDropsHopByHopHeaders() {
        HttpHeaders upstream = new DefaultHttpHeaders()
                .add("Content-Type", "text/event-stream")
                .add("Transfer-Encoding", "chunked")
                .add("Connection", "close, X-Hop")
                .add("X-Hop", "1")
                .add("X-Keymux-Task", "spoofed")
                .add("x-ratelimit-remaining-requests", "5");
        HttpHeaders client = new DefaultHttpHeaders();
        HeaderRewrite.towardsClient(upstream, client);
        assertThat(client.names()).containsExactlyInAnyOrder("Content-Type", "x-ratelimit-remaining-requests");
    }
}
