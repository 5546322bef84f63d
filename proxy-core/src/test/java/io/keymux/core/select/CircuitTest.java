package io.keymux.core.select;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** {@link Circuit#next}: the one circuit transition the local slot and the Redis script share. */
class CircuitTest {
    private static final long COOLDOWN = 1_000;

    private static Circuit after(Circuit c, KeyEffect.Verdict verdict, boolean probe, long now) {
        return c.next(verdict, probe, 2, now, COOLDOWN);
    }

    @Test
    void failuresOpenAtTheThresholdAndASuccessInBetweenStartsTheCountAgain() {
        Circuit one = after(Circuit.CLOSED, KeyEffect.Verdict.FAILURE, false, 0);
        assertThat(one).isEqualTo(new Circuit(Circuit.Phase.CLOSED, 1, 0));
        assertThat(after(one, KeyEffect.Verdict.SUCCESS, false, 0)).isEqualTo(Circuit.CLOSED);
        assertThat(after(one, KeyEffect.Verdict.INCONCLUSIVE, false, 0)).isEqualTo(one);
        assertThat(after(one, KeyEffect.Verdict.FAILURE, false, 5)).isEqualTo(new Circuit(Circuit.Phase.OPEN, 0, 5 + COOLDOWN));
    }

    @Test
    void onlyTheProbesVerdictMovesAnOpenCircuit() {
        Circuit open = new Circuit(Circuit.Phase.OPEN, 0, 100);
        Circuit halfOpen = open.probing();
        assertThat(halfOpen.phase()).isEqualTo(Circuit.Phase.HALF_OPEN);
        // Requests admitted before it opened change nothing, success or failure.
        assertThat(after(halfOpen, KeyEffect.Verdict.SUCCESS, false, 200)).isEqualTo(halfOpen);
        assertThat(after(open, KeyEffect.Verdict.FAILURE, false, 200)).isEqualTo(open);
        // The probe decides: success closes, failure reopens for the cooldown, no verdict lets the next probe go now.
        assertThat(after(halfOpen, KeyEffect.Verdict.SUCCESS, true, 200)).isEqualTo(Circuit.CLOSED);
        assertThat(after(halfOpen, KeyEffect.Verdict.FAILURE, true, 200))
                .isEqualTo(new Circuit(Circuit.Phase.OPEN, 0, 200 + COOLDOWN));
        assertThat(after(halfOpen, KeyEffect.Verdict.NONE, true, 200)).isEqualTo(new Circuit(Circuit.Phase.OPEN, 0, 200));
    }
}
