package io.keymux.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** Identical requests while one is in flight (SPEC.md section 3.8): they wait for it and get its answer. */
class CoalescingTest extends CacheTestBase {

    /** A JSON answer that is sent only once {@code release} fires; {@code cancelled} notes an upstream cancel. */
    static Reply held(int status, String body, Sinks.Empty<Void> release, AtomicBoolean cancelled) {
        return new Reply(status, Map.of("content-type", "application/json"),
                release.asMono().thenMany(Flux.just(body)).doOnCancel(() -> cancelled.set(true)));
    }

    /** A request the held replies below do not apply to (they hold only {@link #BODY}'s answer). */
    static final String PING = BODY.replace("\"hi\"", "\"ping\"");

    static Reply heldUnlessPing(UpstreamStub.Recorded r, Reply held) {
        return r.bodyText().contains("\"ping\"") ? Reply.json(200, UpstreamStub.CHAT_COMPLETION) : held;
    }

    int waiting() {
        return keymux.responseCache().store().waiting();
    }

    CompletableFuture<Answer> async(String task, String body) {
        return CompletableFuture.supplyAsync(() -> chat(task, body));
    }

    @Test
    void aHerdOfAHundredIdenticalRequestsReachesTheUpstreamOnce() throws Exception {
        start("");
        Sinks.Empty<Void> release = Sinks.empty();
        AtomicBoolean cancelled = new AtomicBoolean();
        stub.defaultReply(r -> held(200, UpstreamStub.CHAT_COMPLETION, release, cancelled));

        List<CompletableFuture<Answer>> herd = IntStream.range(0, 100).mapToObj(i -> async("chat", BODY)).toList();
        await("99 requests waiting on the first", () -> waiting() == 99);
        assertThat(atStub()).isEqualTo(1);
        release.tryEmitEmpty();

        List<Answer> answers = herd.stream().map(f -> f.orTimeout(TIMEOUT.toSeconds(), TimeUnit.SECONDS).join()).toList();
        assertThat(answers).allSatisfy(a -> {
            assertThat(a.status()).isEqualTo(200);
            assertThat(a.body()).isEqualTo(UpstreamStub.CHAT_COMPLETION);
        });
        assertThat(answers).extracting(a -> a.headers().get("X-Keymux-Cache"))
                .containsOnly("miss", "coalesced").filteredOn("miss"::equals).hasSize(1);
        assertThat(answers).filteredOn(a -> "coalesced".equals(a.headers().get("X-Keymux-Cache")))
                .allSatisfy(a -> {
                    assertThat(a.headers().get("X-Keymux-Attempts")).isEqualTo("0");
                    assertThat(a.headers().contains("X-Keymux-Key-Id")).isFalse();
                });
        assertThat(atStub()).isEqualTo(1);
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(atStub()).isEqualTo(1);
        assertThat(cancelled).isFalse();
    }

    @Test
    void aJoinedStreamGetsTheEventsSoFarThenTheRestLiveThroughTheSdkAndRawHttp() throws Exception {
        start("");
        Sinks.Many<String> events = Sinks.many().replay().all();
        stub.defaultReply(r -> Reply.sse(events.asFlux()));
        events.tryEmitNext(UpstreamStub.chunkEvent("one"));
        CompletableFuture<Answer> leader = async("chat", STREAM_BODY);
        await("the leader's stream at the upstream", () -> atStub() == 1);

        CompletableFuture<Answer> rawWaiter = async("chat", STREAM_BODY);
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("hi")
                .build();
        CompletableFuture<List<String>> sdkWaiter = CompletableFuture.supplyAsync(() -> {
            try (StreamResponse<ChatCompletionChunk> s = sdk(APP_KEY).chat().completions().createStreaming(params)) {
                return s.stream().map(c -> c.choices().get(0).delta().content().orElse("")).toList();
            }
        });
        await("both waiters joined", () -> waiting() == 2);
        events.tryEmitNext(UpstreamStub.chunkEvent("two"));
        events.tryEmitNext("data: [DONE]\n\n");
        events.tryEmitComplete();

        Answer led = leader.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        Answer joined = rawWaiter.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(joined.headers().get("X-Keymux-Cache")).isEqualTo("coalesced");
        assertThat(joined.headers().get("Content-Type")).startsWith("text/event-stream");
        assertThat(joined.body()).isEqualTo(led.body())
                .isEqualTo(UpstreamStub.chunkEvent("one") + UpstreamStub.chunkEvent("two") + "data: [DONE]\n\n");
        assertThat(sdkWaiter.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).containsExactly("one", "two");
        assertThat(atStub()).isEqualTo(1);
    }

    @Test
    void whenTheLeadersAnswerIsNotASuccessEachWaiterGoesOnByItselfAsAMiss() throws Exception {
        start("");
        Sinks.Empty<Void> release = Sinks.empty();
        stub.enqueue(held(400, "{\"error\":{\"message\":\"no\",\"type\":\"invalid_request_error\"}}", release,
                new AtomicBoolean()));
        CompletableFuture<Answer> leader = async("chat", BODY);
        await("the leader at the upstream", () -> atStub() == 1);
        CompletableFuture<Answer> waiter = async("chat", BODY);
        await("the waiter joined", () -> waiting() == 1);
        release.tryEmitEmpty();

        assertThat(leader.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS).status()).isEqualTo(400);
        Answer alone = waiter.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(alone.status()).isEqualTo(200);
        assertThat(alone.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(alone.headers().get("X-Keymux-Key-Id")).isEqualTo("k1");
        assertThat(atStub()).isEqualTo(2);
        // The waiter's own answer was stored.
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
    }

    @Test
    void whenTheLeadersAnswerBreaksAWaiterGoesOnByItself() throws Exception {
        start("");
        Sinks.Empty<Void> release = Sinks.empty();
        stub.enqueue(held(200, "{\"id\":\"chatcmpl-broken\",", release, new AtomicBoolean()).closeAfterBody());
        CompletableFuture<Answer> leader = async("chat", BODY);
        await("the leader at the upstream", () -> atStub() == 1);
        CompletableFuture<Answer> waiter = async("chat", BODY);
        await("the waiter joined", () -> waiting() == 1);
        release.tryEmitEmpty();

        leader.handle((a, e) -> a).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        Answer alone = waiter.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(alone.status()).isEqualTo(200);
        assertThat(alone.body()).isEqualTo(UpstreamStub.CHAT_COMPLETION);
        assertThat(alone.headers().get("X-Keymux-Cache")).isEqualTo("miss");
        assertThat(atStub()).isEqualTo(2);
    }

    @Test
    void aWaiterWhoseClientHangsUpLeavesTheOthersAlone() throws Exception {
        start("");
        Sinks.Empty<Void> release = Sinks.empty();
        AtomicBoolean cancelled = new AtomicBoolean();
        stub.defaultReply(r -> held(200, UpstreamStub.CHAT_COMPLETION, release, cancelled));
        CompletableFuture<Answer> leader = async("chat", BODY);
        await("the leader at the upstream", () -> atStub() == 1);
        CompletableFuture<Answer> stays = async("chat", BODY);
        try (Socket leaves = rawRequest()) {
            await("two waiters", () -> waiting() == 2);
        }
        await("the one that hung up is gone", () -> waiting() == 1);
        release.tryEmitEmpty();

        assertThat(leader.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS).body()).isEqualTo(UpstreamStub.CHAT_COMPLETION);
        Answer joined = stays.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(joined.headers().get("X-Keymux-Cache")).isEqualTo("coalesced");
        assertThat(joined.body()).isEqualTo(UpstreamStub.CHAT_COMPLETION);
        assertThat(cancelled).isFalse();
        assertThat(atStub()).isEqualTo(1);
    }

    @Test
    void theLeadersUpstreamCallGoesOnForAWaiterAfterTheLeadersClientHangsUp() throws Exception {
        start("");
        Sinks.Empty<Void> release = Sinks.empty();
        AtomicBoolean cancelled = new AtomicBoolean();
        stub.defaultReply(r -> heldUnlessPing(r, held(200, UpstreamStub.CHAT_COMPLETION, release, cancelled)));
        CompletableFuture<Answer> waiter;
        try (Socket leader = rawRequest()) {
            await("the leader at the upstream", () -> atStub() == 1);
            waiter = async("chat", BODY);
            await("the waiter joined", () -> waiting() == 1);
        }
        // The leader's client is gone; give keymux a request round trip to notice it, then answer.
        assertThat(chat("plain", PING).status()).isEqualTo(200);
        assertThat(cancelled).isFalse();
        release.tryEmitEmpty();

        Answer joined = waiter.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(joined.status()).isEqualTo(200);
        assertThat(joined.headers().get("X-Keymux-Cache")).isEqualTo("coalesced");
        assertThat(joined.body()).isEqualTo(UpstreamStub.CHAT_COMPLETION);
        assertThat(chat("chat", BODY).headers().get("X-Keymux-Cache")).isEqualTo("hit");
        assertThat(cancelled).isFalse();
        assertThat(atStub()).isEqualTo(2); // the leader's request and the plain round trip
    }

    @Test
    void theUpstreamCallIsCancelledOnceNobodyWaitsAnyMore() throws Exception {
        start("");
        AtomicBoolean cancelled = new AtomicBoolean();
        stub.defaultReply(r -> heldUnlessPing(r, new Reply(200, Map.of("content-type", "application/json"),
                Mono.<String>never().doOnCancel(() -> cancelled.set(true)))));
        try (Socket leader = rawRequest()) {
            await("the leader at the upstream", () -> atStub() == 1);
            try (Socket waiter = rawRequest()) {
                await("the waiter joined", () -> waiting() == 1);
                leader.close();
                // Still wanted by the waiter: a round trip later the upstream call goes on.
                assertThat(chat("plain", PING).status()).isEqualTo(200);
                assertThat(cancelled).isFalse();
            }
            await("the upstream call cancelled", cancelled::get);
        }
    }

    /** A raw HTTP/1.1 request for {@link #BODY} on task chat that is never read; closing the socket hangs up. */
    private Socket rawRequest() throws IOException {
        Socket socket = new Socket("127.0.0.1", keymux.proxyPort());
        OutputStream out = socket.getOutputStream();
        out.write(("POST " + CHAT + " HTTP/1.1\r\nHost: keymux\r\nAuthorization: Bearer " + APP_KEY
                + "\r\nX-Task-Type: chat\r\nContent-Type: application/json\r\nContent-Length: "
                + BODY.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + BODY).getBytes(StandardCharsets.UTF_8));
        out.flush();
        return socket;
    }
}
