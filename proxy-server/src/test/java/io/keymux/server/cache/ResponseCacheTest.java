package io.keymux.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.netty.handler.codec.http.HttpMethod;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/** SPEC.md section 3.8, one behaviour per test: what is stored, how it is keyed, what a hit costs. */
class ResponseCacheTest extends CacheTestBase {

    static final String USAGE_CHUNK = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
            + "\"created\":1700000000,\"model\":\"gpt-4o\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n";

    /** Streams two tokens, the usage-only chunk when the request asked for it (as OpenAI does), then [DONE]. */
    static Reply stream(UpstreamStub.Recorded r) {
        boolean usage = r.bodyText().contains("\"include_usage\":true");
        return Reply.sse(Flux.just(UpstreamStub.chunkEvent("to"), UpstreamStub.chunkEvent("ken"),
                usage ? USAGE_CHUNK : "", "data: [DONE]\n\n").filter(s -> !s.isEmpty()));
    }

    private static ChatCompletionCreateParams params(String prompt) {
        return ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage(prompt).build();
    }

    @Test
    void aRepeatedSdkRequestIsAnsweredFromMemoryWithoutAnUpstreamCall() {
        start("");
        ChatCompletion first = sdk(APP_KEY).chat().completions().create(params("hello"));
        ChatCompletion second = sdk(APP_KEY).chat().completions().create(params("hello"));

        assertThat(atStub()).isEqualTo(1);
        assertThat(second.choices().get(0).message().content()).hasValue("hello from stub");
        assertThat(second.id()).isEqualTo(first.id());
        assertThat(sdk(APP_KEY).chat().completions().create(params("something else")).id()).isEqualTo("chatcmpl-1");
        assertThat(atStub()).isEqualTo(2);
    }

    @Test
    void aHitCarriesTheOriginalStatusTypeAndBodyWithHitAndZeroAttemptsAndNoKeyId() {
        start("");
        Answer miss = chat("chat", BODY);
        Answer hit = chat("chat", BODY);

        assertThat(miss.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(miss.headers().get("X-Keymux-Key-Id")).isEqualTo("k1");
        assertThat(miss.headers().get("X-Keymux-Attempts")).isEqualTo("1");
        assertThat(hit.status()).isEqualTo(200);
        assertThat(hit.headers().get("Content-Type")).isEqualTo("application/json");
        assertThat(hit.body()).isEqualTo(miss.body()).isEqualTo(UpstreamStub.CHAT_COMPLETION);
        assertThat(hit.headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(hit.headers().get("X-Keymux-Attempts")).isEqualTo("0");
        assertThat(hit.headers().contains("X-Keymux-Key-Id")).isFalse();
        assertThat(hit.headers().get("X-Keymux-Task")).isEqualTo("chat");
        assertThat(hit.headers().get("X-Request-Id")).isNotBlank();
        assertThat(atStub()).isEqualTo(1);
    }

    @Test
    void keyOrderAndWhitespaceDoNotMatterButEveryFieldPathAndQueryDoes() {
        start("");
        chat("chat", BODY);
        String reordered = " {\n \"messages\" : [ {\"content\":\"hi\", \"role\":\"user\"} ],\t\"model\":\"gpt-4o\" } ";
        assertThat(chat("chat", reordered).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(atStub()).isEqualTo(1);

        assertThat(chat("chat", BODY.replace("\"hi\"", "\"hi!\"")).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(chat("chat", BODY.replace("}]}", "}],\"temperature\":0}")).headers().get("X-Keymux-Cache"))
                .isEqualTo("miss");
        assertThat(post(CHAT + "?x=1", BODY, "Authorization", "Bearer " + APP_KEY, "X-Task-Type", "chat")
                .headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(post("/v1/completions", BODY, "Authorization", "Bearer " + APP_KEY, "X-Task-Type", "chat")
                .headers().get("X-Keymux-Cache")).isEqualTo("miss");
        // The task prefix is stripped before forwarding: the same forwarded request, so the same answer.
        assertThat(post("/tasks/chat" + CHAT, BODY, "Authorization", "Bearer " + APP_KEY).headers()
                .get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(atStub()).isEqualTo(5);
    }

    @Test
    void clientScopeKeepsClientsApartAndTaskScopeSharesAcrossThem() {
        start("");
        sdk(APP_KEY).chat().completions().create(params("scoped"));
        sdk(OTHER_KEY).chat().completions().create(params("scoped"));
        assertThat(atStub()).isEqualTo(2);

        chat("shared", BODY);
        Answer other = post(CHAT, BODY, "Authorization", "Bearer " + OTHER_KEY, "X-Task-Type", "shared");
        assertThat(other.headers().get("X-Keymux-Cache")).isEqualTo("hit");
        // Another task never shares an answer, even at task scope.
        assertThat(chat("nostream", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(atStub()).isEqualTo(4);
    }

    @Test
    void globalScopeSharesAcrossTasksAndClientsButNotWithNarrowerScopes() {
        start("");
        assertThat(chat("wide_a", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        Answer otherTask = post(CHAT, BODY, "Authorization", "Bearer " + OTHER_KEY, "X-Task-Type", "wide_b");
        assertThat(otherTask.headers().get("X-Keymux-Cache")).isEqualTo("hit");
        // A task at task scope keeps its own answers, and does not see global ones.
        assertThat(chat("shared", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(atStub()).isEqualTo(2);
    }

    @Test
    void aReloadAppliesANewMaxBytes() {
        start("");
        chat("shared", BODY);
        assertThat(chat("shared", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        // Smaller than one stored answer: the reload evicts it, and nothing fits any more.
        keymux.reload(yaml("cache: { max_bytes: 16 }\n" + TASKS));
        assertThat(chat("shared", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(chat("shared", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        keymux.reload(yaml(TASKS));
        chat("shared", BODY);
        assertThat(chat("shared", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(atStub()).isEqualTo(4);
    }

    @Test
    void aStreamIsReplayedAsTheSameEventsInOrderWithDoneAndUsageOnlyForTheClientThatAskedForIt() {
        start("");
        stub.defaultReply(ResponseCacheTest::stream);
        ChatCompletionCreateParams plain = params("stream me");
        ChatCompletionCreateParams withUsage = plain.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();

        List<ChatCompletionChunk> missPlain = streamed(plain);
        List<ChatCompletionChunk> hitPlain = streamed(plain);
        List<ChatCompletionChunk> missUsage = streamed(withUsage);
        List<ChatCompletionChunk> hitUsage = streamed(withUsage);

        // stream_options is part of the body: two stored answers, each upstream once.
        assertThat(atStub()).isEqualTo(2);
        assertThat(hitPlain).isEqualTo(missPlain);
        assertThat(hitPlain).extracting(c -> c.choices().get(0).delta().content().orElse(""))
                .containsExactly("to", "ken");
        assertThat(hitPlain).allSatisfy(c -> assertThat(c.usage()).isEmpty());
        assertThat(hitUsage).isEqualTo(missUsage).hasSize(3);
        assertThat(hitUsage.get(2).usage()).hasValueSatisfying(u -> assertThat(u.completionTokens()).isEqualTo(7));

        // On the wire: byte for byte what the miss sent, [DONE] last.
        Answer rawMiss = chat("chat", STREAM_BODY);
        Answer rawHit = chat("chat", STREAM_BODY);
        assertThat(rawHit.headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(rawHit.headers().get("Content-Type")).startsWith("text/event-stream");
        assertThat(rawHit.body()).isEqualTo(rawMiss.body()).endsWith("data: [DONE]\n\n")
                .doesNotContain("\"usage\"");
    }

    private List<ChatCompletionChunk> streamed(ChatCompletionCreateParams params) {
        try (StreamResponse<ChatCompletionChunk> s = sdk(APP_KEY).chat().completions().createStreaming(params)) {
            return s.stream().toList();
        }
    }

    @Test
    void aTaskWithStreamFalseCachesAnswersButNotStreams() {
        start("");
        stub.defaultReply(r -> r.bodyText().contains("\"stream\":true") ? stream(r)
                : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        assertThat(chat("nostream", STREAM_BODY).headers().get("X-Keymux-Cache")).isEqualTo("bypass");
        assertThat(chat("nostream", STREAM_BODY).headers().get("X-Keymux-Cache")).isEqualTo("bypass");
        chat("nostream", BODY);
        assertThat(chat("nostream", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(atStub()).isEqualTo(3);
    }

    @Test
    void errorsAreNeverStored() {
        start("");
        stub.enqueue(Reply.json(400, "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\"}}"));
        Answer refused = chat("chat", BODY);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        Answer again = chat("chat", BODY);
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(atStub()).isEqualTo(2);
    }

    @Test
    void answersOverEightMebibytesAreNeverStored() {
        start("cache: { max_bytes: 67108864 }\n");
        String big = "{\"pad\":\"" + "x".repeat(8 * 1024 * 1024) + "\"}";
        stub.defaultReply(r -> Reply.json(200, big));
        assertThat(chat("chat", BODY).body()).hasSize(big.length());
        Answer second = chat("chat", BODY);
        assertThat(second.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(second.body()).isEqualTo(big);
        assertThat(atStub()).isEqualTo(2);
        assertThat(keymux.responseCache().store().entries()).isZero();
    }

    @Test
    void noCacheAndNoStoreRequestsBypassGoUpstreamAndAreNotStored() {
        start("");
        Answer bypass = chat("chat", BODY, "Cache-Control", "no-cache");
        assertThat(bypass.headers().get("X-Keymux-Cache")).isEqualTo("bypass");
        assertThat(chat("chat", BODY, "Cache-Control", "max-age=0, No-Store").headers().get("X-Keymux-Cache"))
                .isEqualTo("bypass");
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        // A stored answer does not answer a no-cache request either: it goes upstream.
        assertThat(chat("chat", BODY, "Cache-Control", "no-cache").headers().get("X-Keymux-Cache")).isEqualTo("bypass");
        assertThat(atStub()).isEqualTo(4);
    }

    @Test
    void aTaskWithoutCacheSendsNoCacheHeaderAndAnswersEveryRequestUpstream() {
        start("");
        Answer first = chat("plain", BODY);
        chat("plain", BODY);
        assertThat(first.headers().contains("X-Keymux-Cache")).isFalse();
        assertThat(atStub()).isEqualTo(2);
    }

    @Test
    void aStoredAnswerExpiresAfterTheTasksTtl() {
        start("");
        chat("chat", BODY);
        time.skip(Duration.ofMinutes(9));
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        time.skip(Duration.ofMinutes(1).plusSeconds(1));
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(atStub()).isEqualTo(2);
    }

    @Test
    void deleteAdminCacheEmptiesTheCacheBehindTheAdminToken() {
        start("");
        chat("chat", BODY);
        chat("shared", BODY);
        assertThat(admin(HttpMethod.DELETE, "/admin/cache", null).status()).isEqualTo(401);
        assertThat(admin(HttpMethod.DELETE, "/admin/cache", "wrong").status()).isEqualTo(401);
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");

        Answer purged = admin(HttpMethod.DELETE, "/admin/cache", ADMIN_TOKEN);
        assertThat(purged.status()).isEqualTo(200);
        assertThat(parse(purged.body()).get("purged").asLong()).isEqualTo(2);
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(parse(admin(HttpMethod.DELETE, "/admin/cache", ADMIN_TOKEN).body()).get("purged").asLong())
                .isEqualTo(1);
    }

    @Test
    void aNonJsonOrNonPostRequestOfACachingTaskBypasses() {
        start("");
        Answer get = call("GET", "/v1/models", null, "Authorization", "Bearer " + APP_KEY, "X-Task-Type", "chat");
        assertThat(get.headers().get("X-Keymux-Cache")).isEqualTo("bypass");
        Answer malformed = chat("chat", "{\"model\":");
        assertThat(malformed.headers().get("X-Keymux-Cache")).isEqualTo("bypass");
        chat("chat", "{\"model\":");
        assertThat(atStub()).isEqualTo(3);
    }
}
