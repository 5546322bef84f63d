package io.keymux.server.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RequestInspectorTest {

    private static final String CHAT = """
            {"model":"gpt-4o","stream":true,"max_tokens":256,"max_completion_tokens":300,
             "stream_options":{"include_usage":true},
             "messages":[{"role":"system","content":"You are terse."},
                         {"role":"user","content":[{"type":"text","text":"héllo"},
                           {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],
             "tools":[{"type":"function","function":{"name":"f","description":"not counted"}}]}
            """;

    @ParameterizedTest
    @ValueSource(strings = {"application/json", "Application/JSON", "application/json; charset=utf-8",
            " application/json ", "application/vnd.api+json", "application/problem+json;q=1"})
    void jsonContentTypes(String contentType) {
        assertThat(RequestInspector.isJson(contentType)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"multipart/form-data; boundary=x", "text/plain", "application/octet-stream",
            "+json", "application/jsonx", "", "application/x-www-form-urlencoded"})
    void otherContentTypes(String contentType) {
        assertThat(RequestInspector.isJson(contentType)).isFalse();
        assertThat(RequestInspector.isJson(null)).isFalse();
    }

    @Test
    void readsChatRequest() {
        InspectedRequest r = RequestInspector.inspect("application/json", CHAT.getBytes(UTF_8));
        assertThat(r.json()).isTrue();
        assertThat(r.malformed()).isFalse();
        assertThat(r.model()).isEqualTo("gpt-4o");
        assertThat(r.stream()).isTrue();
        assertThat(r.maxTokens()).isEqualTo(256L);
        assertThat(r.maxCompletionTokens()).isEqualTo(300L);
        assertThat(r.maxOutputTokens()).isNull();
        assertThat(r.completionLimit()).isEqualTo(300L);
        assertThat(r.includeUsage()).isTrue();
        // "You are terse." (14) + "héllo" (6 bytes in UTF-8)
        assertThat(r.promptBytes()).isEqualTo(20);
        assertThat(r.promptTokenEstimate()).isEqualTo(5);
        assertThat(r.bodyBytes()).isEqualTo(CHAT.getBytes(UTF_8).length);
        assertThat(r.needsIncludeUsage()).isFalse();
    }

    @Test
    void readsCompletionsPromptArrayAndDefaults() {
        String body = "{\"model\":\"m\",\"prompt\":[\"ab\",\"cde\",\"\uD83D\uDE00\"]}";
        InspectedRequest r = RequestInspector.inspect("application/json", body.getBytes(UTF_8));
        assertThat(r.promptBytes()).isEqualTo(2 + 3 + 4);
        assertThat(r.promptTokenEstimate()).isEqualTo(3);
        assertThat(r.stream()).isFalse();
        assertThat(r.maxTokens()).isNull();
        assertThat(r.completionLimit()).isNull();
        assertThat(r.includeUsage()).isFalse();
        assertThat(r.needsIncludeUsage()).isFalse();
    }

    @Test
    void readsAnthropicAndResponsesShapes() {
        String anthropic = "{\"model\":\"claude\",\"max_tokens\":1024,\"system\":\"be nice\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
        InspectedRequest a = RequestInspector.inspect("application/json", anthropic.getBytes(UTF_8));
        assertThat(a.promptBytes()).isEqualTo(7 + 2);
        assertThat(a.completionLimit()).isEqualTo(1024L);
        assertThat(a.needsIncludeUsage()).isTrue();

        String responses = "{\"model\":\"gpt-4.1\",\"instructions\":\"abc\",\"max_output_tokens\":50,"
                + "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hello\"}]}]}";
        InspectedRequest b = RequestInspector.inspect("application/json", responses.getBytes(UTF_8));
        assertThat(b.promptBytes()).isEqualTo(3 + 5);
        assertThat(b.maxOutputTokens()).isEqualTo(50L);
        assertThat(b.completionLimit()).isEqualTo(50L);
    }

    @Test
    void nonIntegerOrHugeNumbersAreNull() {
        String body = "{\"max_tokens\":10.5,\"max_completion_tokens\":123456789012345678901234,\"stream\":\"true\","
                + "\"model\":42}";
        InspectedRequest r = RequestInspector.inspect("application/json", body.getBytes(UTF_8));
        assertThat(r.malformed()).isFalse();
        assertThat(r.maxTokens()).isNull();
        assertThat(r.maxCompletionTokens()).isNull();
        assertThat(r.stream()).isFalse();
        assertThat(r.model()).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"model\":\"x\",", "{\"model\":\"x\"}{}", "{\"model\" \"x\"}", "nope", "[1,2"})
    void malformedJsonIsReportedNotThrown(String body) {
        InspectedRequest r = RequestInspector.inspect("application/json", body.getBytes(UTF_8));
        assertThat(r.json()).isTrue();
        assertThat(r.malformed()).isTrue();
        assertThat(r.model()).isNull();
        assertThat(r.bodyBytes()).isEqualTo(body.length());
        assertThat(r.promptTokenEstimate()).isEqualTo((body.length() + 3) / 4);
        assertThat(r.needsIncludeUsage()).isFalse();
    }

    @Test
    void invalidUtf8IsMalformed() {
        byte[] body = {'{', '"', 'a', '"', ':', '"', (byte) 0xC3, '"', '}'};
        assertThat(RequestInspector.inspect("application/json", body).malformed()).isTrue();
    }

    @Test
    void nonObjectAndEmptyJson() {
        InspectedRequest array = RequestInspector.inspect("application/json", "[1,2]".getBytes(UTF_8));
        assertThat(array.malformed()).isFalse();
        assertThat(array.promptTokenEstimate()).isZero();
        InspectedRequest empty = RequestInspector.inspect("application/json", new byte[0]);
        assertThat(empty.json()).isTrue();
        assertThat(empty.malformed()).isFalse();
        assertThat(empty.bodyBytes()).isZero();
    }

    @Test
    void nonJsonIsNotParsed() {
        byte[] body = "{\"model\":\"would-be\"}".getBytes(UTF_8);
        InspectedRequest r = RequestInspector.inspect("multipart/form-data; boundary=abc", body);
        assertThat(r.json()).isFalse();
        assertThat(r.model()).isNull();
        assertThat(r.bodyBytes()).isEqualTo(body.length);
        assertThat(r.promptTokenEstimate()).isZero();
    }

    @Test
    void byteBufInspectionLeavesIndicesAndRefCountAlone() {
        byte[] bytes = CHAT.getBytes(UTF_8);
        // A heap buffer whose array has an offset, a direct buffer, and a composite.
        byte[] padded = new byte[bytes.length + 20];
        System.arraycopy(bytes, 0, padded, 7, bytes.length);
        ByteBuf heap = Unpooled.wrappedBuffer(padded, 7, bytes.length);
        ByteBuf direct = Unpooled.directBuffer().writeBytes(bytes);
        CompositeByteBuf composite = Unpooled.compositeBuffer();
        composite.addComponent(true, Unpooled.copiedBuffer(bytes, 0, 40));
        composite.addComponent(true, Unpooled.copiedBuffer(bytes, 40, bytes.length - 40));
        for (ByteBuf buf : new ByteBuf[] {heap, direct, composite}) {
            int reader = buf.readerIndex();
            InspectedRequest r = RequestInspector.inspect("application/json", buf);
            assertThat(r.model()).isEqualTo("gpt-4o");
            assertThat(r.promptBytes()).isEqualTo(20);
            assertThat(r.bodyBytes()).isEqualTo(bytes.length);
            assertThat(buf.readerIndex()).isEqualTo(reader);
            assertThat(buf.refCnt()).isEqualTo(1);
            buf.release();
        }
    }

    @Test
    void acceptsStreamOptionsOnlyOnCompletionsPaths() {
        assertThat(RequestInspector.acceptsStreamOptions("/v1/chat/completions")).isTrue();
        assertThat(RequestInspector.acceptsStreamOptions("/v1/completions?x=1")).isTrue();
        assertThat(RequestInspector.acceptsStreamOptions("/openai/deployments/d/chat/completions/")).isTrue();
        assertThat(RequestInspector.acceptsStreamOptions("/v1/messages")).isFalse();
        assertThat(RequestInspector.acceptsStreamOptions("/v1/embeddings")).isFalse();
        assertThat(RequestInspector.acceptsStreamOptions("/v1/responses")).isFalse();
    }
}
