package io.keymux.server.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * An OpenAI-compatible mock upstream: answers chat completions, plain or streamed (SSE, with the
 * final usage chunk when {@code stream_options.include_usage} is set), enforces a per-key RPM and
 * injects the faults of {@link MockKey}. Like OpenAI it reports {@code prompt_tokens_details.cached_tokens}
 * for a prompt whose first 1024 tokens or more the same key sent recently ({@link MockPromptCache}). It accepts the key as {@code Authorization: Bearer},
 * {@code x-api-key}, {@code api-key} or the {@code key} query parameter.
 *
 * <pre>{@code
 * try (MockUpstream mock = MockUpstream.start(0, List.of(MockKey.healthy("primary", "k1", 600, Duration.ZERO)))) {
 *     // POST http://127.0.0.1:{mock.port()}/v1/chat/completions
 * }
 * }</pre>
 */
public final class MockUpstream implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int STREAM_CHUNKS = 8;
    private static final Duration RETRY_AFTER = Duration.ofSeconds(2);
    /** OpenAI keeps cached prefixes for 5 to 10 minutes of inactivity. */
    private static final Duration PROMPT_CACHE_TTL = Duration.ofMinutes(5);

    private final Map<String, KeyState> keys = new ConcurrentHashMap<>();
    private final long startNanos = System.nanoTime();
    private final DisposableServer server;

    private MockUpstream(int port, List<MockKey> mockKeys) {
        for (MockKey key : mockKeys) {
            keys.put(key.apiKey(), new KeyState(key));
        }
        this.server = HttpServer.create()
                .host("127.0.0.1")
                .port(port)
                .handle(this::handle)
                .bindNow();
    }

    /** Starts the mock on 127.0.0.1 ({@code port} 0 picks a free one). */
    public static MockUpstream start(int port, List<MockKey> keys) {
        return new MockUpstream(port, List.copyOf(keys));
    }

    /** The bound port. */
    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.disposeNow(Duration.ofSeconds(5));
    }

    private Publisher<Void> handle(HttpServerRequest request, HttpServerResponse response) {
        String presented = presentedKey(request);
        KeyState state = presented == null ? null : keys.get(presented);
        if (state == null) {
            return error(response, HttpResponseStatus.UNAUTHORIZED, "invalid_api_key", "Incorrect API key provided.");
        }
        boolean faultActive = state.key.faultFor().isZero()
                || System.nanoTime() - startNanos < state.key.faultFor().toNanos();
        switch (state.key.fault()) {
            case INVALID -> {
                return error(response, HttpResponseStatus.UNAUTHORIZED, "invalid_api_key", "Incorrect API key provided.");
            }
            case RATE_LIMITED -> {
                if (faultActive) {
                    return rateLimited(response);
                }
            }
            case SERVER_ERROR -> {
                if (faultActive) {
                    return error(response, HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error",
                            "The server had an error while processing your request.");
                }
            }
            case QUOTA_EXHAUSTED -> {
                if (faultActive) {
                    return error(response, HttpResponseStatus.TOO_MANY_REQUESTS, "insufficient_quota",
                            "You exceeded your current quota, please check your plan and billing details.");
                }
            }
            case OVERLOADED -> {
                if (faultActive) {
                    return response.status(529)
                            .header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                            .sendString(Mono.just("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                                    + "\"message\":\"Overloaded\"}}"))
                            .then();
                }
            }
            case NONE -> { }
        }
        if (!state.tryTake(System.nanoTime())) {
            return rateLimited(response);
        }
        return request.receive().aggregate().asByteArray().defaultIfEmpty(new byte[0])
                .flatMap(body -> Mono.delay(state.key.latency()).thenReturn(body))
                .flatMap(body -> answer(response, body, state.key.latency(),
                        state.promptCache.lookupAndStore(body, System.nanoTime())).then());
    }

    private static @Nullable String presentedKey(HttpServerRequest request) {
        String auth = request.requestHeaders().get(HttpHeaderNames.AUTHORIZATION);
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return auth.substring(7).trim();
        }
        String header = request.requestHeaders().get("x-api-key");
        if (header == null) {
            header = request.requestHeaders().get("api-key");
        }
        if (header != null) {
            return header;
        }
        List<String> query = new QueryStringDecoder(request.uri()).parameters().get("key");
        return query == null || query.isEmpty() ? null : query.get(0);
    }

    private Mono<Void> answer(HttpServerResponse response, byte[] body, Duration chunkDelay, long cachedTokens) {
        ChatRequest chat = ChatRequest.parse(body);
        long promptTokens = Math.max(1, (body.length + 3) / 4);
        String promptDetails = ",\"prompt_tokens_details\":{\"cached_tokens\":" + Math.min(cachedTokens, promptTokens)
                + ",\"audio_tokens\":0}";
        String id = "chatcmpl-mock-" + Long.toHexString(System.nanoTime());
        if (!chat.stream()) {
            String content = words(STREAM_CHUNKS);
            long completionTokens = STREAM_CHUNKS * 2L;
            String json = "{\"id\":\"" + id + "\",\"object\":\"chat.completion\",\"created\":" + epochSeconds()
                    + ",\"model\":\"" + chat.model() + "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                    + "\"content\":\"" + content + "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
                    + promptTokens + ",\"completion_tokens\":" + completionTokens + ",\"total_tokens\":"
                    + (promptTokens + completionTokens) + promptDetails + "}}";
            return response.status(200)
                    .header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                    .sendString(Mono.just(json))
                    .then();
        }
        List<String> events = new ArrayList<>(STREAM_CHUNKS + 3);
        for (int i = 0; i < STREAM_CHUNKS; i++) {
            String delta = i == 0 ? "{\"role\":\"assistant\",\"content\":\"\"}" : "{\"content\":\"word" + i + " \"}";
            events.add("data: {\"id\":\"" + id + "\",\"object\":\"chat.completion.chunk\",\"created\":" + epochSeconds()
                    + ",\"model\":\"" + chat.model() + "\",\"choices\":[{\"index\":0,\"delta\":" + delta
                    + ",\"finish_reason\":" + (i == STREAM_CHUNKS - 1 ? "\"stop\"" : "null") + "}]}\n\n");
        }
        if (chat.includeUsage()) {
            long completionTokens = STREAM_CHUNKS * 2L;
            events.add("data: {\"id\":\"" + id + "\",\"object\":\"chat.completion.chunk\",\"created\":" + epochSeconds()
                    + ",\"model\":\"" + chat.model() + "\",\"choices\":[],\"usage\":{\"prompt_tokens\":" + promptTokens
                    + ",\"completion_tokens\":" + completionTokens + ",\"total_tokens\":"
                    + (promptTokens + completionTokens) + promptDetails + "}}\n\n");
        }
        events.add("data: [DONE]\n\n");
        Flux<String> stream = Flux.fromIterable(events);
        if (!chunkDelay.isZero()) {
            stream = stream.delayElements(chunkDelay.dividedBy(4));
        }
        return response.status(200)
                .header(HttpHeaderNames.CONTENT_TYPE, "text/event-stream")
                .header(HttpHeaderNames.CACHE_CONTROL, "no-cache")
                .sendString(stream, StandardCharsets.UTF_8)
                .then();
    }

    private static String words(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i < n; i++) {
            sb.append("word").append(i).append(' ');
        }
        return sb.toString().trim();
    }

    private static long epochSeconds() {
        return System.currentTimeMillis() / 1000;
    }

    private static Mono<Void> rateLimited(HttpServerResponse response) {
        response.header(HttpHeaderNames.RETRY_AFTER, Long.toString(RETRY_AFTER.toSeconds()));
        return error(response, HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_exceeded",
                "Rate limit reached for requests.");
    }

    private static Mono<Void> error(HttpServerResponse response, HttpResponseStatus status, String code, String message) {
        String json = "{\"error\":{\"message\":\"" + message + "\",\"type\":\"" + code + "\",\"code\":\"" + code + "\"}}";
        return response.status(status)
                .header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .sendString(Mono.just(json))
                .then();
    }

    /** The few request fields the mock looks at. */
    private record ChatRequest(String model, boolean stream, boolean includeUsage) {
        static ChatRequest parse(byte[] body) {
            if (body.length == 0) {
                return new ChatRequest("mock-model", false, false);
            }
            try {
                JsonNode root = JSON.readTree(body);
                String model = root.path("model").asText("mock-model");
                boolean stream = root.path("stream").asBoolean(false);
                boolean includeUsage = root.path("stream_options").path("include_usage").asBoolean(false);
                return new ChatRequest(model.replace("\"", ""), stream, includeUsage);
            } catch (IOException malformed) {
                return new ChatRequest("mock-model", false, false);
            }
        }
    }

    /** A per-key request bucket: capacity {@code rpm}, refilled continuously. */
    private static final class KeyState {
        final MockKey key;
        final MockPromptCache promptCache = new MockPromptCache(PROMPT_CACHE_TTL.toNanos());
        private double tokens;
        private long lastNanos;

        KeyState(MockKey key) {
            this.key = Objects.requireNonNull(key);
            this.tokens = key.rpm();
            this.lastNanos = System.nanoTime();
        }

        synchronized boolean tryTake(long nowNanos) {
            if (key.rpm() <= 0) {
                return true;
            }
            double refill = (nowNanos - lastNanos) / 60e9 * key.rpm();
            tokens = Math.min(key.rpm(), tokens + refill);
            lastNanos = nowNanos;
            if (tokens >= 1) {
                tokens -= 1;
                return true;
            }
            return false;
        }
    }
}
