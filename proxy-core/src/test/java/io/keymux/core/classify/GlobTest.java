package io.keymux.core.classify;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GlobTest {
    @Test
    void starMatchesAnyRunAndQuestionMarkExactlyOneCharacter() {
        assertThat(Glob.of("gpt-4*").matches("gpt-4o-mini")).isTrue();
        assertThat(Glob.of("gpt-4*").matches("gpt-3.5")).isFalse();
        assertThat(Glob.of("/v1/*/completions").matches("/v1/chat/completions")).isTrue();
        assertThat(Glob.of("gpt-?").matches("gpt-4")).isTrue();
        assertThat(Glob.of("gpt-?").matches("gpt-4o")).isFalse();
        assertThat(Glob.of("*").matches("")).isTrue();
        assertThat(Glob.of("a*b*c").matches("axxbyyc")).isTrue();
        assertThat(Glob.of("a*b*c").matches("axxbyy")).isFalse();
        assertThat(Glob.of("exact").matches("exact")).isTrue();
        assertThat(Glob.of("exact").matches("exactly")).isFalse();
    }

    @Test
    void pathologicalPatternStaysLinearish() {
        String text = "a".repeat(5000);
        assertThat(Glob.of("*a*a*a*a*a*a*b").matches(text)).isFalse();
    }
}
