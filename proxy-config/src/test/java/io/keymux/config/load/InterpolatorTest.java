package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class InterpolatorTest {

    private final Interpolator interpolator = new Interpolator(Map.of("HOST", "example.com", "EMPTY", ""));

    @Test
    void replacesVariablesAnywhereInTheString() {
        assertThat(interpolator.apply("https://${HOST}/v1").value()).isEqualTo("https://example.com/v1");
    }

    @Test
    void usesTheDefaultWhenUnsetOrEmptyButNotWhenSet() {
        assertThat(interpolator.apply("${NOPE:-fallback}").value()).isEqualTo("fallback");
        assertThat(interpolator.apply("${EMPTY:-fallback}").value()).isEqualTo("fallback");
        assertThat(interpolator.apply("${HOST:-fallback}").value()).isEqualTo("example.com");
        assertThat(interpolator.apply("${NOPE:-}").value()).isEmpty();
    }

    @Test
    void reportsEveryMissingVariableOnce() {
        Interpolator.Result r = interpolator.apply("${A}-${B}-${A}");
        assertThat(r.ok()).isFalse();
        assertThat(r.missing()).containsExactly("A", "B");
    }

    @Test
    void setButEmptyWithoutDefaultIsEmptyNotMissing() {
        Interpolator.Result r = interpolator.apply("${EMPTY}");
        assertThat(r.ok()).isTrue();
        assertThat(r.value()).isEmpty();
    }

    @Test
    void doubleDollarEscapesAReference() {
        assertThat(interpolator.apply("$${HOST} costs $5").value()).isEqualTo("${HOST} costs $5");
    }

    @Test
    void malformedReferencesAreSyntaxErrors() {
        assertThat(interpolator.apply("${HOST").syntaxError())
                .isEqualTo("unterminated ${ (expected: ${VAR} or ${VAR:-default})");
        assertThat(interpolator.apply("${1A}").syntaxError())
                .isEqualTo("invalid variable reference ${1A} (expected: ${VAR} or ${VAR:-default})");
        assertThat(interpolator.apply("${}").syntaxError())
                .isEqualTo("invalid variable reference ${} (expected: ${VAR} or ${VAR:-default})");
    }
}
