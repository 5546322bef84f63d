package io.keymux.core.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProviderLimitsTest {
    private static final long NOW = Instant.parse("2026-11-22T10:00:00Z").toEpochMilli();

    @Test
    void readsOpenAiHeaders() {
        Map<String, String> h = Map.of(
                "x-ratelimit-remaining-requests", "59",
                "x-ratelimit-remaining-tokens", "149984",
                "x-ratelimit-reset-requests", "1s",
                "x-ratelimit-reset-tokens", "6m0s");
        ProviderLimits p = ProviderLimits.parse(h::get, NOW);
        assertThat(p).isEqualTo(new ProviderLimits(59L, 149_984L, Duration.ofSeconds(1), Duration.ofMinutes(6)));
    }

    @Test
    void readsAnthropicHeaders() {
        Map<String, String> h = Map.of(
                "anthropic-ratelimit-requests-remaining", "3",
                "anthropic-ratelimit-tokens-remaining", "7000",
                "anthropic-ratelimit-requests-reset", "2026-11-22T10:00:30Z",
                "anthropic-ratelimit-tokens-reset", "2026-11-22T10:01:00.500Z");
        ProviderLimits p = ProviderLimits.parse(h::get, NOW);
        assertThat(p).isEqualTo(new ProviderLimits(3L, 7_000L, Duration.ofSeconds(30), Duration.ofMillis(60_500)));
    }

    @Test
    void nothingKnownWithoutHeadersOrWithMalformedOnes() {
        assertThat(ProviderLimits.parse(name -> null, NOW).isUnknown()).isTrue();
        Map<String, String> h = Map.of("x-ratelimit-remaining-requests", "many", "x-ratelimit-reset-tokens", "soon");
        assertThat(ProviderLimits.parse(h::get, NOW)).isEqualTo(ProviderLimits.UNKNOWN);
    }

    @Test
    void parsesOpenAiDurations() {
        assertThat(ProviderLimits.parseOpenAiDuration("1s")).isEqualTo(Duration.ofSeconds(1));
        assertThat(ProviderLimits.parseOpenAiDuration("6m0s")).isEqualTo(Duration.ofMinutes(6));
        assertThat(ProviderLimits.parseOpenAiDuration("12ms")).isEqualTo(Duration.ofMillis(12));
        assertThat(ProviderLimits.parseOpenAiDuration("1h2m3.5s")).isEqualTo(Duration.ofMillis(3_723_500));
        assertThat(ProviderLimits.parseOpenAiDuration("0.25")).isEqualTo(Duration.ofMillis(250));
        assertThat(ProviderLimits.parseOpenAiDuration("5x")).isNull();
        assertThat(ProviderLimits.parseOpenAiDuration("")).isNull();
    }

    @Test
    void retryAfterPrefersMillisecondsThenSecondsThenHttpDateThenTheLongestReset() {
        assertThat(RetryAfter.parse(Map.of("retry-after-ms", "1500", "retry-after", "9")::get, NOW))
                .isEqualTo(Duration.ofMillis(1_500));
        assertThat(RetryAfter.parse(Map.of("retry-after", "20")::get, NOW)).isEqualTo(Duration.ofSeconds(20));
        assertThat(RetryAfter.parse(Map.of("retry-after", "Sun, 22 Nov 2026 10:00:42 GMT")::get, NOW))
                .isEqualTo(Duration.ofSeconds(42));
        assertThat(RetryAfter.parse(Map.of("retry-after", "Sun, 22 Nov 2026 09:00:00 GMT")::get, NOW))
                .isEqualTo(Duration.ZERO);
        assertThat(RetryAfter.parse(Map.of(
                "x-ratelimit-reset-requests", "2s", "x-ratelimit-reset-tokens", "1m30s")::get, NOW))
                .isEqualTo(Duration.ofSeconds(90));
        assertThat(RetryAfter.parse(Map.of("anthropic-ratelimit-tokens-reset", "2026-11-22T10:00:05Z")::get, NOW))
                .isEqualTo(Duration.ofSeconds(5));
        assertThat(RetryAfter.parse(Map.of("retry-after", "later")::get, NOW)).isNull();
        assertThat(RetryAfter.parse(name -> null, NOW)).isNull();
    }

    @Test
    void tokenReservationIsThePromptEstimatePlusTheCompletionLimit() {
        assertThat(TokenEstimate.reservation(0, null)).isEqualTo(TokenEstimate.DEFAULT_MAX_TOKENS).isEqualTo(256);
        assertThat(TokenEstimate.reservation(1, null)).isEqualTo(257);
        assertThat(TokenEstimate.reservation(1, 100L)).isEqualTo(101);
        assertThat(TokenEstimate.reservation(1001, 1000L)).isEqualTo(2001);
        assertThat(TokenEstimate.reservation(-3, -1L)).isZero();
    }
}
