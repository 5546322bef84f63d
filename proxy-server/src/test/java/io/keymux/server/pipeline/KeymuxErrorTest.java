package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class KeymuxErrorTest {

    @Test
    void bodyHasOpenAisShape() {
        assertThat(new String(KeymuxError.of(400, "no_task_matched", "say \"which\"").body(), StandardCharsets.UTF_8))
                .isEqualTo("{\"error\":{\"message\":\"say \\\"which\\\"\",\"type\":\"keymux_error\","
                        + "\"code\":\"no_task_matched\"}}");
    }

    @Test
    void retryAfterIsWholeSecondsRoundedUpAtLeastOne() {
        assertThat(KeymuxError.allKeysExhausted("m", Duration.ofMillis(1)).retryAfterSeconds()).isEqualTo("1");
        assertThat(KeymuxError.allKeysExhausted("m", Duration.ZERO).retryAfterSeconds()).isEqualTo("1");
        assertThat(KeymuxError.allKeysExhausted("m", Duration.ofMillis(2001)).retryAfterSeconds()).isEqualTo("3");
        assertThat(KeymuxError.allKeysExhausted("m", Duration.ofSeconds(60)).retryAfterSeconds()).isEqualTo("60");
        assertThat(KeymuxError.badRequest("m").retryAfterSeconds()).isNull();
    }
}
