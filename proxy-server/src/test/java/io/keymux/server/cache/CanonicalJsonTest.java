package io.keymux.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class CanonicalJsonTest {

    private static @Nullable String canonical(String json) {
        byte[] out = CanonicalJson.of(json.getBytes(StandardCharsets.UTF_8));
        return out == null ? null : new String(out, StandardCharsets.UTF_8);
    }

    @Test
    void sortsMembersAtEveryDepthAndDropsWhitespace() {
        assertThat(canonical(" { \"b\" : [ {\"z\":1, \"a\":2} ],\n\"a\": {\"y\":null,\"x\":true} } "))
                .isEqualTo("{\"a\":{\"x\":true,\"y\":null},\"b\":[{\"a\":2,\"z\":1}]}");
    }

    @Test
    void keepsNumbersAsParsedAndArrayOrder() {
        assertThat(canonical("{\"t\":0.10,\"n\":12345678901234567890123,\"f\":1.0,\"i\":1,\"l\":[3,1,2]}"))
                .isEqualTo("{\"f\":1.0,\"i\":1,\"l\":[3,1,2],\"n\":12345678901234567890123,\"t\":0.10}");
        assertThat(canonical("{\"t\":0.1}")).isNotEqualTo(canonical("{\"t\":0.10}"));
    }

    @Test
    void writesEqualStringsOneWay() {
        assertThat(canonical("{\"s\":\"caf\\u00e9 \\/\"}")).isEqualTo(canonical("{\"s\":\"café /\"}"));
    }

    @Test
    void refusesMalformedTrailingAndDuplicateKeyBodies() {
        assertThat(canonical("{\"a\":")).isNull();
        assertThat(canonical("{} {}")).isNull();
        assertThat(canonical("{\"a\":1,\"a\":2}")).isNull();
        assertThat(canonical("")).isNull();
    }
}
