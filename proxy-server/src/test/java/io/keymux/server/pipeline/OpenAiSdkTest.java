package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Sinks;

/** The official OpenAI Java SDK pointed at keymux, as an application would use it. */
class OpenAiSdkTest extends KeymuxTestBase {

    private OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder()
                .baseUrl(proxyUrl() + "/v1")
                .apiKey(TestConfigs.CLIENT_KEY)
                .maxRetries(0)
                .build();
    }

    private static ChatCompletionCreateParams params() {
        return ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("hi").build();
    }

    @Test
    void chatCompletionGoesThroughWithThePoolKey() {
        startKeymux(config().build());
        ChatCompletion completion = sdk().chat().completions().create(params());

        assertThat(completion.choices().get(0).message().content()).hasValue("hello from stub");
        UpstreamStub.Recorded seen = stub.last();
        assertThat(seen.path()).isEqualTo("/v1/chat/completions");
        assertThat(seen.headers().get("Authorization")).isEqualTo("Bearer " + TestConfigs.POOL_KEY_1);
        assertThat(seen.headers().toString()).doesNotContain(TestConfigs.CLIENT_KEY);
        assertThat(seen.bodyText()).contains("\"model\":\"gpt-4o\"");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void streamedChunksReachTheSdkOneByOneWhileTheUpstreamIsStillProducing() {
        startKeymux(config().build());
        Sinks.Many<String> upstream = Sinks.many().unicast().onBackpressureBuffer();
        stub.enqueue(UpstreamStub.Reply.sse(upstream.asFlux()));
        // The first chunk carries the response headers; the SDK call returns once they arrive.
        upstream.tryEmitNext(UpstreamStub.chunkEvent("tok0"));

        try (StreamResponse<ChatCompletionChunk> stream = sdk().chat().completions().createStreaming(params())) {
            Iterator<ChatCompletionChunk> chunks = stream.stream().iterator();
            for (int i = 0; i < 5; i++) {
                // Chunk i+1 does not exist yet: the SDK can only see chunk i if keymux forwarded it alone.
                assertThat(chunks.next().choices().get(0).delta().content()).hasValue("tok" + i);
                if (i < 4) {
                    upstream.tryEmitNext(UpstreamStub.chunkEvent("tok" + (i + 1)));
                }
            }
            upstream.tryEmitNext("data: [DONE]\n\n");
            upstream.tryEmitComplete();
            assertThat(chunks.hasNext()).isFalse();
        }
        assertThat(stub.last().headers().get("Authorization")).isEqualTo("Bearer " + TestConfigs.POOL_KEY_1);
    }
}
