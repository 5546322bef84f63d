package io.keymux.core.insight;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class HealthScoreTest {

    private static KeyObservation key(String status, long requests, long successes) {
        return new KeyObservation("k", List.of("t"), false, status, requests, successes, 100, 0, 0, null, 0);
    }

    @Test
    void allActiveAndSuccessfulIsAHundred() {
        HealthScore h = HealthScore.of(List.of(key("active", 10, 10), key("active", 10, 10)), 0);

        assertThat(h).isEqualTo(new HealthScore("healthy", 100, 2, 2));
    }

    @Test
    void halfTheKeysCoolingAndSomeFailuresDegrade() {
        // usable 0.5, success 15/20 = 0.75, no slow keys: 100 * (0.25 + 0.3 + 0.1) = 65
        HealthScore h = HealthScore.of(List.of(key("active", 10, 10), key("cooling_down", 10, 5)), 0);

        assertThat(h).isEqualTo(new HealthScore("degraded", 65, 1, 2));
    }

    @Test
    void nothingUsableIsUnhealthy() {
        // usable 0, success 0, one of one slow: 0
        HealthScore h = HealthScore.of(List.of(key("disabled", 10, 0)), 1);

        assertThat(h).isEqualTo(new HealthScore("unhealthy", 0, 0, 1));
    }
}
