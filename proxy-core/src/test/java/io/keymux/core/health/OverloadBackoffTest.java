package io.keymux.core.health;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OverloadBackoffTest {
    private static final long S = 1_000_000_000L;

    @Test
    void backsOffOneUpstreamForItsDurationOnly() {
        OverloadBackoff backoff = new OverloadBackoff();
        OverloadBackoff.Upstream anthropic = backoff.upstream("anthropic");
        anthropic.backOff(100 * S, Duration.ofSeconds(5));
        assertThat(anthropic.overloaded(100 * S)).isTrue();
        assertThat(anthropic.overloaded(105 * S - 1)).isTrue();
        assertThat(anthropic.overloaded(105 * S)).isFalse();
        assertThat(anthropic.remainingNanos(102 * S)).isEqualTo(3 * S);
        assertThat(backoff.upstream("openai").overloaded(101 * S)).isFalse();
        assertThat(backoff.upstream("anthropic")).isSameAs(anthropic);
        assertThat(backoff.backingOff(101 * S)).isEqualTo(Map.of("anthropic", 4 * S));
        assertThat(backoff.backingOff(106 * S)).isEmpty();
    }

    @Test
    void aLaterSignalNeverShortensARunningBackoff() {
        OverloadBackoff.Upstream u = new OverloadBackoff().upstream("x");
        u.backOff(0, Duration.ofSeconds(30));
        u.backOff(S, Duration.ofSeconds(5));
        assertThat(u.remainingNanos(S)).isEqualTo(29 * S);
        u.backOff(10 * S, Duration.ofSeconds(30));
        assertThat(u.remainingNanos(10 * S)).isEqualTo(30 * S);
    }

    @Test
    void worksAcrossTheNanoTimeSignFlip() {
        OverloadBackoff.Upstream u = new OverloadBackoff().upstream("x");
        long now = Long.MAX_VALUE - S;
        u.backOff(now, Duration.ofSeconds(2));
        assertThat(u.overloaded(now + S)).isTrue();
        assertThat(u.overloaded(now + 2 * S)).isFalse();
    }
}
