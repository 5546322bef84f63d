package io.keymux.config.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The one cost formula, with input tokens served from the provider's prompt cache priced apart. */
class ApiKeyCostTest {

    private static ApiKeyConfig.Builder key() {
        return ApiKeyConfig.builder("k1", Secret.of("sk-cost-test-4411"))
                .costPerInputToken(0.0000025).costPerOutputToken(0.00001);
    }

    @Test
    void cachedPromptTokensArePricedAtTheCachedPriceWhenSet() {
        ApiKeyConfig k = key().costPerCachedInputToken(0.00000125).build();
        // 86 uncached input tokens, 1920 cached, 300 output: gpt-4o's list prices.
        assertThat(k.costUsd(2006, 1920, 300)).isCloseTo(86 * 0.0000025 + 1920 * 0.00000125 + 300 * 0.00001,
                within(1e-12));
        assertThat(k.cacheSavingUsd(1920)).isCloseTo(1920 * 0.00000125, within(1e-12));
        assertThat(k.toBuilder().build()).isEqualTo(k);
    }

    @Test
    void withoutACachedPriceCachedTokensCostAsAnyInputToken() {
        ApiKeyConfig k = key().build();
        assertThat(k.cachedInputTokenCost()).isEqualTo(0.0000025);
        assertThat(k.costUsd(2006, 1920, 300)).isEqualTo(k.costUsd(2006, 300));
        assertThat(k.cacheSavingUsd(1920)).isZero();
        // cost_per_token alone prices everything, cached tokens included.
        ApiKeyConfig flat = ApiKeyConfig.builder("k2", Secret.of("sk-cost-test-5522")).costPerToken(0.001).build();
        assertThat(flat.cachedInputTokenCost()).isEqualTo(0.001);
    }

    @Test
    void aCachedCountBeyondThePromptIsCappedAtIt() {
        ApiKeyConfig k = key().costPerCachedInputToken(0.0).build();
        assertThat(k.costUsd(100, 500, 0)).isZero();
        assertThat(k.costUsd(100, -3, 0)).isCloseTo(100 * 0.0000025, within(1e-12));
    }
}
