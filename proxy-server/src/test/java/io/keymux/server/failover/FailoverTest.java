package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import io.keymux.config.model.RetryPolicy;
import io.keymux.config.model.Timeouts;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyStatus;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;

/** SPEC.md section 3 step 7 with faults injected by the stub, seen through the official OpenAI SDK. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FailoverTest extends FailoverTestBase {

    private HttpResponseFor<ChatCompletion> create() {
        return sdk().chat().completions().withRawResponse().create(params());
    }

    private static String attempts(HttpResponseFor<?> response) {
        return response.headers().values("X-Keymux-Attempts").get(0);
    }

    private static String servedBy(HttpResponseFor<?> response) {
        return response.headers().values("X-Keymux-Key-Id").get(0);
    }

    @Test
    void rateLimitedKeyFailsOverAndIsSkippedUntilItsCooldownEnds() {
        start(twoKeys().build());
        k1Answers(Reply.json(429, "{\"error\":{\"message\":\"slow down\"}}").withHeader("Retry-After", "30"));

        HttpResponseFor<ChatCompletion> first = create();
        assertThat(first.parse().choices().get(0).message().content()).hasValue("hello from stub");
        assertThat(attempts(first)).isEqualTo("2");
        assertThat(servedBy(first)).isEqualTo("k2");
        assertThat(state("k1").state()).isEqualTo(KeyStatus.State.COOLING_DOWN);

        for (int i = 0; i < 3; i++) {
            HttpResponseFor<ChatCompletion> next = create();
            assertThat(attempts(next)).isEqualTo("1");
            assertThat(servedBy(next)).isEqualTo("k2");
        }
        assertThat(keysSeen()).containsExactly("k1", "k2", "k2", "k2", "k2");

        // The cooldown is what Retry-After said: once it has passed, the preferred key serves again.
        stub.defaultReply(r -> Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        clock.advance(Duration.ofSeconds(31));
        assertThat(servedBy(create())).isEqualTo("k1");
    }

    @Test
    void serverErrorsOpenTheCircuitAndTheHalfOpenProbeClosesIt() {
        start(twoKeys().health(h -> h.failureThreshold(2).circuitCooldown(Duration.ofMinutes(5))
                .rateLimitCooldown(Duration.ofSeconds(60))).build());
        k1Answers(Reply.json(500, "{\"error\":{\"message\":\"boom\"}}"));

        assertThat(attempts(create())).isEqualTo("2");
        assertThat(attempts(create())).isEqualTo("2");
        assertThat(state("k1").state()).isEqualTo(KeyStatus.State.CIRCUIT_OPEN);
        // Open circuit: k1 is not even tried.
        HttpResponseFor<ChatCompletion> third = create();
        assertThat(attempts(third)).isEqualTo("1");
        assertThat(servedBy(third)).isEqualTo("k2");
        assertThat(keysSeen()).containsExactly("k1", "k2", "k1", "k2", "k2");

        // k1 recovers; past the cooldown one probe goes to it and closes the circuit.
        stub.defaultReply(r -> Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        clock.advance(Duration.ofMinutes(5).plusSeconds(1));
        HttpResponseFor<ChatCompletion> probe = create();
        assertThat(servedBy(probe)).isEqualTo("k1");
        assertThat(attempts(probe)).isEqualTo("1");
        probe.parse();
        awaitState("k1", KeyStatus.State.ACTIVE);
    }

    @Test
    void connectionRefusedFailsOverToAKeyOnAnotherUpstream() {
        start(setup().key(chatKey("dead", DEAD_KEY, "dead", 2)).key(chatKey("k2", "sk-pool-key-2", "stub", 1)).build());

        HttpResponseFor<ChatCompletion> answer = create();
        assertThat(answer.parse().choices().get(0).message().content()).hasValue("hello from stub");
        assertThat(attempts(answer)).isEqualTo("2");
        assertThat(servedBy(answer)).isEqualTo("k2");
        assertThat(stub.recorded()).hasSize(1);
    }

    @Test
    void connectionResetAfterTheHeadersButBeforeTheFirstByteFailsOver() {
        start(twoKeys().build());
        k1Answers(Reply.json(200, "").headersFirst().closeAfterBody());

        HttpResponseFor<ChatCompletion> answer = create();
        assertThat(answer.parse().choices().get(0).message().content()).hasValue("hello from stub");
        assertThat(attempts(answer)).isEqualTo("2");
        assertThat(keysSeen()).containsExactly("k1", "k2");
    }

    @Test
    void connectionResetAfterTheFirstByteIsNotRetriedAndTheClientSeesABrokenAnswer() {
        // The stub declares 1,000,000 bytes: too large to hold whole, so the first byte goes out at once.
        start(twoKeys().build());
        k1Answers(Reply.json(200, "{\"id\":\"chatcmpl-1\",\"choices\":[").closeAfterBody());

        assertThatThrownBy(() -> create().parse()).isNotNull();
        assertThat(keysSeen()).containsExactly("k1");
    }

    @Test
    void aSmallAnswerOfDeclaredLengthThatBreaksBeforeItsEndFailsOverInvisibly() {
        // keymux holds a non-streaming answer of up to 64 KiB until it is whole (it leaves as one
        // write), so a break inside it happens before the client saw a byte and another key answers.
        start(twoKeys().build());
        k1Answers(Reply.json(200, "{\"id\":\"chatcmpl-1\",\"choices\":[").withHeader("content-length", "400")
                .closeAfterBody());

        HttpResponseFor<ChatCompletion> answer = create();
        assertThat(answer.parse().choices().get(0).message().content()).hasValue("hello from stub");
        assertThat(attempts(answer)).isEqualTo("2");
        assertThat(keysSeen()).containsExactly("k1", "k2");
    }

    @Test
    void streamResetAfterTheFirstChunkEndsWithAnSseErrorEvent() {
        start(twoKeys().build());
        k1Answers(Reply.sse(Flux.just(UpstreamStub.chunkEvent("tok0"))).closeAfterBody());

        List<String> seen = new ArrayList<>();
        assertThatThrownBy(() -> {
            try (StreamResponse<ChatCompletionChunk> stream = sdk().chat().completions().createStreaming(params())) {
                stream.stream().forEach(c -> seen.add(c.choices().get(0).delta().content().orElse("")));
            }
        }).hasMessageContaining("upstream");
        assertThat(seen).containsExactly("tok0");
        assertThat(keysSeen()).containsExactly("k1");
    }

    @Test
    void streamStallingBeforeItsFirstChunkFailsOverInvisibly() {
        // Generous enough that the healthy second key never trips it on a loaded machine.
        start(twoKeys().task(TestConfigs.TASK, t -> t.timeouts(
                new Timeouts(Duration.ofSeconds(5), Duration.ofMillis(1500), Duration.ofSeconds(5)))).build());
        stub.defaultReply(r -> keyOf(r).equals("k1")
                ? Reply.sse(Flux.never()).headersFirst()
                : Reply.sse(Flux.just(UpstreamStub.chunkEvent("a"), UpstreamStub.chunkEvent("b"), "data: [DONE]\n\n")));

        HttpResponseFor<StreamResponse<ChatCompletionChunk>> response =
                sdk().chat().completions().withRawResponse().createStreaming(params());
        List<String> seen = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = response.parse()) {
            stream.stream().forEach(c -> seen.add(c.choices().get(0).delta().content().orElse("")));
        }
        assertThat(seen).containsExactly("a", "b");
        assertThat(attempts(response)).isEqualTo("2");
        assertThat(keysSeen()).containsExactly("k1", "k2");
        assertThat(state("k1").totalRequests()).isEqualTo(1);
    }

    @Test
    void streamStallingAfterItsFirstChunkEndsWithAnSseErrorEventAndIsAskedOnce() {
        start(twoKeys().task(TestConfigs.TASK, t -> t.timeouts(
                new Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMillis(1000)))).build());
        k1Answers(Reply.sse(Flux.just(UpstreamStub.chunkEvent("tok0")).concatWith(Flux.never())));

        List<String> seen = new ArrayList<>();
        assertThatThrownBy(() -> {
            try (StreamResponse<ChatCompletionChunk> stream = sdk().chat().completions().createStreaming(params())) {
                Iterator<ChatCompletionChunk> it = stream.stream().iterator();
                while (it.hasNext()) {
                    seen.add(it.next().choices().get(0).delta().content().orElse(""));
                }
            }
        }).hasMessageContaining("timeouts.idle");
        assertThat(seen).containsExactly("tok0");
        assertThat(keysSeen()).containsExactly("k1");
    }

    @Test
    void unauthorizedDisablesTheKeyAndLaterRequestsNeverUseIt() {
        start(twoKeys().build());
        k1Answers(Reply.json(401, "{\"error\":{\"message\":\"bad key\"}}"));

        HttpResponseFor<ChatCompletion> first = create();
        assertThat(attempts(first)).isEqualTo("2");
        assertThat(servedBy(first)).isEqualTo("k2");
        assertThat(state("k1").state()).isEqualTo(KeyStatus.State.DISABLED);
        for (int i = 0; i < 3; i++) {
            assertThat(servedBy(create())).isEqualTo("k2");
        }
        clock.advance(Duration.ofMinutes(9));
        assertThat(servedBy(create())).isEqualTo("k2");
        assertThat(keysSeen()).containsExactly("k1", "k2", "k2", "k2", "k2", "k2");
        // health.disabled_probe (10m by default): one real request tests k1; refused again, it fails over.
        clock.advance(Duration.ofMinutes(1));
        HttpResponseFor<ChatCompletion> probed = create();
        assertThat(servedBy(probed)).isEqualTo("k2");
        assertThat(attempts(probed)).isEqualTo("2");
        assertThat(servedBy(create())).isEqualTo("k2");
        assertThat(keysSeen()).containsExactly("k1", "k2", "k2", "k2", "k2", "k2", "k1", "k2", "k2");
        assertThat(state("k1").state()).isEqualTo(KeyStatus.State.DISABLED);
    }

    @Test
    void everyKeyDisabledAnswers502AtOnce() {
        start(twoKeys().build());
        stub.defaultReply(r -> Reply.json(401, "{\"error\":{\"message\":\"Incorrect API key provided.\","
                + "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"));

        OpenAIServiceException first = (OpenAIServiceException) catchThrowable(this::create);
        assertThat(first.statusCode()).isEqualTo(502);
        assertThat(first.code()).hasValue("upstream_unavailable");
        OpenAIServiceException next = (OpenAIServiceException) catchThrowable(this::create);
        assertThat(next.statusCode()).isEqualTo(502);
        assertThat(next.body().toString()).contains("disabled");
        assertThat(stub.recorded()).hasSize(2);
    }

    @Test
    void everyKeyRateLimitedGivesKeymuxs429WithRetryAfterNeverTheUpstreamBody() {
        start(twoKeys().build());
        stub.defaultReply(r -> Reply.json(429, "{\"error\":{\"message\":\"upstream says slow down\"}}")
                .withHeader("Retry-After", "7"));

        RateLimitException e = (RateLimitException) catchThrowable(this::create);
        assertThat(e.statusCode()).isEqualTo(429);
        assertThat(e.code()).hasValue("all_keys_exhausted");
        assertThat(e.type()).hasValue("keymux_error");
        assertThat(e.headers().values("Retry-After")).containsExactly("7");
        assertThat(e.body().toString()).doesNotContain("upstream says slow down");
        assertThat(keysSeen()).containsExactlyInAnyOrder("k1", "k2");

        // Both keys now cool down: the next request waits max_wait, then gets keymux's 429 naming why.
        RateLimitException later = (RateLimitException) catchThrowable(this::create);
        assertThat(later.code()).hasValue("all_keys_exhausted");
        assertThat(later.body().toString()).contains("429");
        assertThat(later.headers().values("Retry-After")).isNotEmpty();
        assertThat(stub.recorded()).hasSize(2);
    }

    @Test
    void serverErrorsOnEveryAttemptGive502() {
        start(twoKeys().build());
        stub.defaultReply(r -> Reply.json(503, "{}"));
        OpenAIServiceException e = (OpenAIServiceException) catchThrowable(this::create);
        assertThat(e.statusCode()).isEqualTo(502);
        assertThat(e.code()).hasValue("upstream_unavailable");
        assertThat(keysSeen()).containsExactlyInAnyOrder("k1", "k2");
    }

    @Test
    void timeoutsOnEveryAttemptGive504() {
        start(twoKeys().task(TestConfigs.TASK, t -> t.timeouts(
                new Timeouts(Duration.ofSeconds(5), Duration.ofMillis(300), Duration.ofSeconds(5)))).build());
        stub.defaultReply(r -> Reply.hang());
        OpenAIServiceException t = (OpenAIServiceException) catchThrowable(this::create);
        assertThat(t.statusCode()).isEqualTo(504);
        assertThat(t.code()).hasValue("upstream_timeout");
        assertThat(keysSeen()).containsExactlyInAnyOrder("k1", "k2");
    }

    @Test
    void statusNotInRetryOnPassesThroughUnchanged() {
        start(twoKeys().task(TestConfigs.TASK, t -> t.retryOn(new RetryPolicy(Set.of(500), true, true))).build());
        stub.defaultReply(r -> Reply.json(429, "{\"error\":{\"message\":\"upstream 429\"}}").withHeader("Retry-After", "3"));

        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(429);
        assertThat(a.body()).isEqualTo("{\"error\":{\"message\":\"upstream 429\"}}");
        assertThat(a.headers().get("X-Keymux-Attempts")).isEqualTo("1");
        assertThat(stub.recorded()).hasSize(1);
        // The key still cools down: the broker heard about the 429.
        awaitState("k1", KeyStatus.State.COOLING_DOWN);
    }

    @Test
    void badRequestPassesThroughByteIdentical() {
        start(twoKeys().build());
        String body = "{\"error\":{\"message\":\"bad  param\",\"type\":\"invalid_request_error\",\"param\":\"x\",\"code\":null}}\n";
        stub.defaultReply(r -> Reply.json(400, body).withHeader("x-upstream-thing", "kept"));

        Answer a = post("/v1/chat/completions", chatBody("gpt-4o"));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).isEqualTo(body);
        assertThat(a.headers().get("x-upstream-thing")).isEqualTo("kept");
        assertThat(a.headers().get("X-Keymux-Attempts")).isEqualTo("1");
        assertThat(stub.recorded()).hasSize(1);
        assertThat(state("k1").state()).isEqualTo(KeyStatus.State.ACTIVE);
    }

    private static Throwable catchThrowable(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            return e;
        }
        throw new AssertionError("expected the call to fail");
    }
}
