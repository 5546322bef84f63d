package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BodyFactsTest {

    private static BodyFacts facts(String body, String contentType) {
        return BodyFacts.of(body.getBytes(StandardCharsets.UTF_8), contentType);
    }

    @Test
    void readsTopLevelModelAndCompletionLimitOnly() {
        BodyFacts f = facts("{\"messages\":[{\"model\":\"inner\",\"max_tokens\":9}],\"model\":\"gpt-4o\","
                + "\"max_completion_tokens\":100}", "application/json");
        assertThat(f).isEqualTo(new BodyFacts(true, "gpt-4o", 100L));
        assertThat(f.estimatedTokens(400)).isEqualTo(100 + 100);
    }

    @Test
    void defaultsTheCompletionLimit() {
        assertThat(facts("{\"model\":\"m\"}", "application/json; charset=utf-8").estimatedTokens(40))
                .isEqualTo(10 + BodyFacts.DEFAULT_COMPLETION_TOKENS);
    }

    @Test
    void nonJsonAndMalformedBodiesAreLeftAlone() {
        assertThat(facts("--b\r\n", "multipart/form-data; boundary=b").json()).isFalse();
        assertThat(facts("{\"model\":", "application/json").json()).isFalse();
        assertThat(facts("{\"model\":\"m\"}", "multipart/form-data").model()).isNull();
    }
}
