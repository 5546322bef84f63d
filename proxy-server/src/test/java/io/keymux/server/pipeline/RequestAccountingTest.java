package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RequestAccountingTest {

    @Test
    void overheadIsMillisecondsWithThreeDecimalsTruncatedToTheMicrosecond() {
        assertThat(RequestAccounting.millisWithMicros(0)).isEqualTo("0.000");
        assertThat(RequestAccounting.millisWithMicros(999)).isEqualTo("0.000");
        assertThat(RequestAccounting.millisWithMicros(1_000)).isEqualTo("0.001");
        assertThat(RequestAccounting.millisWithMicros(42_000)).isEqualTo("0.042");
        assertThat(RequestAccounting.millisWithMicros(412_345)).isEqualTo("0.412");
        assertThat(RequestAccounting.millisWithMicros(1_234_567)).isEqualTo("1.234");
        assertThat(RequestAccounting.millisWithMicros(99_100_000_000L)).isEqualTo("99100.000");
        assertThat(RequestAccounting.millisWithMicros(-5)).isEqualTo("0.000");
    }
}
