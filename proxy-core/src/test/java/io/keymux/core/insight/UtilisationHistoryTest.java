package io.keymux.core.insight;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.keymux.core.select.KeyStatus;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class UtilisationHistoryTest {
    private static final long SECOND = 1_000_000_000L;

    /** A key with an RPM limit of 100 that used {@code rpm} in the last minute, after {@code requests} in total. */
    private static KeyStatus key(String id, long rpm, long requests, long successes, @Nullable Long tpmLimit, long tpm) {
        return new KeyStatus(id, "openai", List.of("chat"), KeyStatus.State.ACTIVE,
                new KeyStatus.Limits(100L, tpmLimit, null), new KeyStatus.Usage(rpm, tpm, 0), null, 0,
                requests, successes, 0, 0, 0, 0);
    }

    @Test
    void countsRequestsSinceTheOldestSampleInTheWindow() {
        UtilisationHistory history = UtilisationHistory.over(Duration.ofSeconds(60));
        history.sample(0, List.of(key("k", 0, 0, 0, null, 0)));
        history.sample(30 * SECOND, List.of(key("k", 0, 40, 30, null, 0)));
        history.sample(60 * SECOND, List.of(key("k", 0, 50, 40, null, 0)));

        // At 70 s the sample at 0 s has left the window: the window starts at the 30 s sample.
        UtilisationHistory.KeyWindow window = history.window(70 * SECOND, key("k", 0, 55, 44, null, 0));

        assertThat(window.requests()).isEqualTo(15);
        assertThat(window.successes()).isEqualTo(14);
    }

    @Test
    void highUtilisationShareIsTheShareOfSamplesAboveEightyPercentOfRpmOrTpm() {
        UtilisationHistory history = UtilisationHistory.over(Duration.ofMinutes(15));
        history.sample(0, List.of(key("k", 10, 0, 0, 1000L, 0)));
        history.sample(10 * SECOND, List.of(key("k", 81, 0, 0, 1000L, 0)));
        history.sample(20 * SECOND, List.of(key("k", 80, 0, 0, 1000L, 0)));
        history.sample(30 * SECOND, List.of(key("k", 5, 0, 0, 1000L, 900)));

        UtilisationHistory.KeyWindow window = history.window(30 * SECOND, key("k", 5, 0, 0, 1000L, 900));

        // 81 > 80 and 900 > 800 are hot; exactly 80 is not.
        assertThat(window.highUtilisationShare()).isEqualTo(0.5);
    }

    @Test
    void aKeyNeverSampledCountsFromZeroAndARestartedCounterIsNeverNegative() {
        UtilisationHistory history = UtilisationHistory.over(Duration.ofMinutes(15));
        history.sample(0, List.of(key("old", 0, 100, 100, null, 0)));

        assertThat(history.window(SECOND, key("new", 0, 7, 6, null, 0)))
                .isEqualTo(new UtilisationHistory.KeyWindow(7, 6, 0.0));
        assertThat(history.window(SECOND, key("old", 0, 3, 3, null, 0)))
                .isEqualTo(new UtilisationHistory.KeyWindow(0, 0, 0.0));
    }

    @Test
    void keysGoneFromASampleAreForgotten() {
        UtilisationHistory history = UtilisationHistory.over(Duration.ofMinutes(15));
        history.sample(0, List.of(key("gone", 90, 10, 10, null, 0)));
        history.sample(SECOND, List.of(key("other", 0, 0, 0, null, 0)));

        assertThat(history.window(2 * SECOND, key("gone", 0, 12, 12, null, 0)))
                .isEqualTo(new UtilisationHistory.KeyWindow(12, 12, 0.0));
    }

    @Test
    void theWindowMustBePositive() {
        assertThatThrownBy(() -> UtilisationHistory.over(Duration.ZERO))
                .hasMessage("window: PT0S (expected: > 0)");
    }
}
