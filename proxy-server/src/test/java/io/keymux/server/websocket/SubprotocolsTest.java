package io.keymux.server.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Subprotocols}: the browser's key is taken out of the offer, the rest goes upstream in order. */
class SubprotocolsTest {

    @Test
    void browserKeyIsTakenOutAndTheRestKeptInOrder() {
        HttpHeaders headers = new DefaultHttpHeaders().add("Sec-WebSocket-Protocol",
                "realtime, openai-insecure-api-key.ck-secret-7, openai-beta.realtime-v1");
        Subprotocols offered = Subprotocols.of(headers);
        assertThat(offered.clientKey()).isEqualTo("ck-secret-7");
        assertThat(offered.upstream()).containsExactly("realtime", "openai-beta.realtime-v1");
        assertThat(offered.upstreamOffer()).isEqualTo("realtime,openai-beta.realtime-v1");
        assertThat(offered.toString()).doesNotContain("ck-secret-7");
    }

    @Test
    void noOfferMeansNoKeyAndNothingUpstream() {
        Subprotocols offered = Subprotocols.of(new DefaultHttpHeaders());
        assertThat(offered.clientKey()).isNull();
        assertThat(offered.upstream()).isEqualTo(List.of());
        assertThat(offered.upstreamOffer()).isNull();
    }

    @Test
    void upgradeNeedsUpgradeWebsocketAndConnectionUpgradeWhateverTheCase() {
        assertThat(Subprotocols.isUpgrade(new DefaultHttpHeaders().add("Upgrade", "WebSocket")
                .add("Connection", "keep-alive, Upgrade"))).isTrue();
        assertThat(Subprotocols.isUpgrade(new DefaultHttpHeaders().add("Upgrade", "websocket"))).as("no Connection")
                .isFalse();
        assertThat(Subprotocols.isUpgrade(new DefaultHttpHeaders().add("Upgrade", "h2c").add("Connection", "upgrade")))
                .isFalse();
        assertThat(Subprotocols.isUpgrade(new DefaultHttpHeaders())).isFalse();
    }
}
