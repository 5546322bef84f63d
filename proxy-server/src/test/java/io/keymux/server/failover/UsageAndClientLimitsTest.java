package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.core.http.StreamResponse;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyStatus;
import io.keymux.server.testing.UpstreamStub.Reply;
import io.keymux.server.testing.UpstreamStub;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;

/**
 * Exact usage (SPEC.md section 3 step 3: reservations settled from the answer's {@code usage}) and
 * per-client limits, through the official OpenAI SDK.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UsageAndClientLimitsTest extends FailoverTestBase {

    private static final String USAGE_CHUNK = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
            + "\"created\":1700000000,\"model\":\"gpt-4o\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n";

    /** Streams two tokens, then the usage-only chunk when the request asked for it, as OpenAI does. */
    private void streamLikeOpenAi() {
        stub.defaultReply(r -> {
            boolean usage = r.bodyText().contains("\"include_usage\":true");
            Flux<String> events = Flux.just(UpstreamStub.chunkEvent("a"), UpstreamStub.chunkEvent("b"));
            if (usage) {
                events = events.concatWith(Flux.just(USAGE_CHUNK));
            }
            return Reply.sse(events.concatWith(Flux.just("data: [DONE]\n\n")));
        });
    }

    private List<ChatCompletionChunk> stream(ChatCompletionCreateParams params) {
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = sdk().chat().completions().createStreaming(params)) {
            stream.stream().forEach(chunks::add);
        }
        return chunks;
    }

    @Test
    void streamingClientWithoutIncludeUsageSeesNoUsageChunkAndTheCountersEqualTheUpstreamsUsage() {
        start(twoKeys().build());
        streamLikeOpenAi();

        List<ChatCompletionChunk> chunks = stream(params());

        assertThat(chunks).extracting(c -> c.choices().get(0).delta().content().orElse("")).containsExactly("a", "b");
        assertThat(chunks).allSatisfy(c -> assertThat(c.usage()).isEmpty());
        // keymux asked the upstream for usage on the client's behalf...
        assertThat(stub.last().bodyText()).contains("\"stream_options\":{\"include_usage\":true}");
        // ...and settled the reservation with it.
        awaitTokens("k1", 11, 7);
    }

    @Test
    void streamingClientThatAskedForIncludeUsageStillGetsTheUsageChunk() {
        start(twoKeys().build());
        streamLikeOpenAi();

        List<ChatCompletionChunk> chunks = stream(params().toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build());

        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage()).hasValueSatisfying(u -> {
            assertThat(u.promptTokens()).isEqualTo(11);
            assertThat(u.completionTokens()).isEqualTo(7);
        });
        awaitTokens("k1", 11, 7);
    }

    @Test
    void jsonAnswerSettlesWithItsUsage() {
        start(twoKeys().build());

        sdk().chat().completions().create(params());

        // UpstreamStub.CHAT_COMPLETION reports 5 prompt and 3 completion tokens.
        awaitTokens("k1", 5, 3);
        assertThat(state("k2").totalTokens()).isZero();
    }

    @Test
    void anthropicStyleStreamIsSentUnchanged() {
        start(twoKeys().build());
        stub.defaultReply(r -> Reply.sse(Flux.just("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")));
        String body = "{\"model\":\"claude\",\"stream\":true,\"max_tokens\":10,\"messages\":[]}";

        Answer a = post("/v1/messages", body);

        assertThat(a.status()).isEqualTo(200);
        assertThat(stub.last().bodyText()).isEqualTo(body);
        assertThat(stub.last().headers().get("Accept-Encoding")).isEqualTo("identity");
    }

    @Test
    void clientOverItsMaxRpmGets429ClientRateLimitedWithRetryAfter() {
        start(twoKeys().client(ClientConfig.builder("app").key(Secret.of(TestConfigs.CLIENT_KEY)).maxRpm(2L)).build());

        sdk().chat().completions().create(params());
        sdk().chat().completions().create(params());
        RateLimitException e = null;
        try {
            sdk().chat().completions().create(params());
        } catch (RateLimitException refused) {
            e = refused;
        }

        assertThat(e).isNotNull();
        assertThat(e.statusCode()).isEqualTo(429);
        assertThat(e.code()).hasValue("client_rate_limited");
        assertThat(e.type()).hasValue("keymux_error");
        assertThat(e.headers().values("Retry-After")).singleElement()
                .satisfies(v -> assertThat(Long.parseLong(v)).isPositive());
        assertThat(stub.recorded()).hasSize(2);
        assertThat(state("k1").state()).isEqualTo(KeyStatus.State.ACTIVE);
    }
}
