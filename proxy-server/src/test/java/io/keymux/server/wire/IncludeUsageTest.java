package io.keymux.server.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IncludeUsageTest {

    private static final String FIELD = "\"stream_options\":{\"include_usage\":true}";

    private static String splice(String body) {
        return new String(RequestInspector.withIncludeUsage(body.getBytes(UTF_8)), UTF_8);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        // absent: spliced after the last member
        "{\"model\":\"m\",\"stream\":true}|{\"model\":\"m\",\"stream\":true," + FIELD + "}",
        "{}|{" + FIELD + "}",
        "'{ }'|'{ " + FIELD + "}'",
        "'{\n  \"model\": \"m\",\n  \"stream\": true\n}\n'|'{\n  \"model\": \"m\",\n  \"stream\": true," + FIELD + "\n}\n'",
        "'\t{\"a\":[1,{\"b\":\"}\"}]}  '|'\t{\"a\":[1,{\"b\":\"}\"}]," + FIELD + "}  '",
        // present without include_usage: merged into it
        "{\"stream_options\":{},\"x\":1}|{\"stream_options\":{\"include_usage\":true},\"x\":1}",
        "'{\"stream_options\": { \"foo\" : 1 } }'|'{\"stream_options\": { \"foo\" : 1,\"include_usage\":true } }'",
        // present and not true: only that value changes
        "'{\"stream_options\":{\"include_usage\" : false ,\"x\":1}}'|'{\"stream_options\":{\"include_usage\" : true ,\"x\":1}}'",
        "{\"stream_options\":{\"include_usage\":null}}|{\"stream_options\":{\"include_usage\":true}}",
        "{\"stream_options\":{\"include_usage\":\"n\\\"o\"}}|{\"stream_options\":{\"include_usage\":true}}",
        "{\"stream_options\":{\"include_usage\":-1.5e3}}|{\"stream_options\":{\"include_usage\":true}}",
        "{\"stream_options\":{\"include_usage\":[false]}}|{\"stream_options\":{\"include_usage\":true}}",
        // present but not an object: replaced
        "{\"stream_options\":null,\"stream\":true}|{\"stream_options\":{\"include_usage\":true},\"stream\":true}",
        "{\"stream_options\":\"x,y\" , \"s\":1}|{\"stream_options\":{\"include_usage\":true} , \"s\":1}",
        "{\"stream_options\":[1,2]}|{\"stream_options\":{\"include_usage\":true}}",
        // the last of duplicate keys decides, as in upstream parsers
        "{\"stream_options\":{\"include_usage\":true},\"stream_options\":{}}|{\"stream_options\":{\"include_usage\":true},\"stream_options\":{\"include_usage\":true}}",
    })
    void splices(String body, String expected) {
        assertThat(splice(body)).isEqualTo(expected);
        assertThat(RequestInspector.inspect("application/json", expected.getBytes(UTF_8)).includeUsage()).isTrue();
    }

    @Test
    void keepsUnicodeByteForByte() {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"日本語 \uD83D\uDE00 \\u00e9\"}],\"stream\":true }";
        String expected = "{\"messages\":[{\"role\":\"user\",\"content\":\"日本語 \uD83D\uDE00 \\u00e9\"}],\"stream\":true,"
                + FIELD + " }";
        assertThat(splice(body)).isEqualTo(expected);

        byte[] bytes = body.getBytes(UTF_8);
        byte[] padded = new byte[bytes.length + 11];
        System.arraycopy(bytes, 0, padded, 5, bytes.length);
        ByteBuf[] inputs = {
            Unpooled.wrappedBuffer(padded, 5, bytes.length),
            Unpooled.directBuffer().writeBytes(bytes),
            Unpooled.wrappedBuffer(Unpooled.copiedBuffer(bytes, 0, 17), Unpooled.copiedBuffer(bytes, 17, bytes.length - 17)),
        };
        for (ByteBuf in : inputs) {
            int reader = in.readerIndex();
            ByteBuf out = RequestInspector.withIncludeUsage(in);
            assertThat(out.toString(UTF_8)).isEqualTo(expected);
            assertThat(in.readerIndex()).isEqualTo(reader);
            assertThat(in.refCnt()).isEqualTo(1);
            assertThat(out.release()).isTrue();
            assertThat(in.release()).isTrue();
        }
    }

    @Test
    void unchangedBodiesComeBackAsTheyWere() {
        String already = "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        byte[] bytes = already.getBytes(UTF_8);
        assertThat(RequestInspector.withIncludeUsage(bytes)).isSameAs(bytes);
        byte[] malformed = "{\"stream\":true,".getBytes(UTF_8);
        assertThat(RequestInspector.withIncludeUsage(malformed)).isSameAs(malformed);
        byte[] array = "[{}]".getBytes(UTF_8);
        assertThat(RequestInspector.withIncludeUsage(array)).isSameAs(array);

        ByteBuf in = Unpooled.copiedBuffer(bytes);
        ByteBuf out = RequestInspector.withIncludeUsage(in);
        assertThat(out.toString(UTF_8)).isEqualTo(already);
        assertThat(in.refCnt()).isEqualTo(2);
        out.release();
        assertThat(in.release()).isTrue();
    }
}
