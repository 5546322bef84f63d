package io.keymux.server.websocket;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.WebsocketServerSpec;

/**
 * An in-process upstream speaking the Realtime API's shape on {@code GET /v1/realtime}: the key is
 * checked per account (401 {@code invalid_api_key} for an unknown one; an account may be made to
 * refuse upgrades with 429 and OpenAI's rate-limit error body), the subprotocol {@code realtime} is
 * chosen when offered, and on connect it sends {@code session.created}. Then, per client event:
 *
 * <ul>
 *   <li>{@code response.create}: {@code response.created}, a {@code response.output_text.delta}, a
 *   {@code response.audio.delta}, and {@code response.done} with {@link #USAGE};</li>
 *   <li>{@code test.close} (a test's own event): closes with its {@code code} and {@code reason};</li>
 * </ul>
 *
 * With {@code flood=N} in the query it sends, after {@code session.created}, N binary frames of
 * {@link #FLOOD_FRAME_BYTES} each, as fast as the connection takes them (counted in {@link #floodSent()}).
 */
final class RealtimeStub implements AutoCloseable {
    static final String RATE_LIMIT_BODY = """
            {"error":{"message":"Rate limit reached for gpt-realtime in organization org-1 on requests per min \
            (RPM): Limit 100, Used 100, Requested 1. Please try again in 20s.","type":"requests","param":null,\
            "code":"rate_limit_exceeded"}}""";
    static final String USAGE = """
            {"total_tokens":160,"input_tokens":120,"output_tokens":40,"input_token_details":{"cached_tokens":64,\
            "text_tokens":100,"audio_tokens":20},"output_token_details":{"text_tokens":30,"audio_tokens":10}}""";
    static final int FLOOD_FRAME_BYTES = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DisposableServer server;
    private final Set<String> accounts;
    private final Set<String> refusing = ConcurrentHashMap.newKeySet();
    /** The headers of every upgrade request, in order. */
    private final List<HttpHeaders> upgrades = new CopyOnWriteArrayList<>();
    /** The close status each accepted session got from keymux, in order. */
    private final List<WebSocketCloseStatus> closes = new CopyOnWriteArrayList<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger floodSent = new AtomicInteger();

    RealtimeStub(String... accountKeys) {
        this.accounts = Set.of(accountKeys);
        this.server = HttpServer.create().host("127.0.0.1").port(0)
                .route(routes -> routes.get("/v1/realtime", this::upgrade))
                .bindNow();
    }

    URI baseUrl() {
        return URI.create("http://127.0.0.1:" + server.port());
    }

    /** From now on, upgrades with this key get 429 and OpenAI's rate-limit body. */
    void refuseWith429(String key) {
        refusing.add(key);
    }

    List<HttpHeaders> upgrades() {
        return upgrades;
    }

    List<WebSocketCloseStatus> closes() {
        return closes;
    }

    int openSessions() {
        return open.get();
    }

    int floodSent() {
        return floodSent.get();
    }

    private Publisher<Void> upgrade(HttpServerRequest request, HttpServerResponse response) {
        upgrades.add(new DefaultHttpHeaders().set(request.requestHeaders()));
        String authorization = request.requestHeaders().get("Authorization", "");
        String key = authorization.startsWith("Bearer ") ? authorization.substring(7) : "";
        if (!accounts.contains(key)) {
            return error(response, 401, """
                    {"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,\
                    "code":"invalid_api_key"}}""");
        }
        if (refusing.contains(key)) {
            response.header("retry-after", "20");
            response.header("x-ratelimit-remaining-requests", "0");
            return error(response, 429, RATE_LIMIT_BODY);
        }
        String offered = request.requestHeaders().get("Sec-WebSocket-Protocol", "");
        WebsocketServerSpec.Builder spec = WebsocketServerSpec.builder().maxFramePayloadLength(1 << 20);
        if (offered.contains("realtime")) {
            spec.protocols("realtime");
        }
        int flood = request.uri().contains("flood=")
                ? Integer.parseInt(request.uri().replaceAll(".*flood=(\\d+).*", "$1")) : 0;
        return response.sendWebsocket((in, out) -> {
            open.incrementAndGet();
            in.receiveCloseStatus().subscribe(closes::add);
            if (flood > 0) {
                // As fast as the connection takes them: MonoSendMany asks for more as writes complete.
                byte[] bytes = new byte[FLOOD_FRAME_BYTES];
                Flux<WebSocketFrame> frames = Flux.concat(Mono.just(text(event("session.created", "\"session\":{}"))),
                        Flux.range(0, flood).map(i -> (WebSocketFrame) new BinaryWebSocketFrame(Unpooled.wrappedBuffer(bytes)))
                                .doOnNext(frame -> floodSent.incrementAndGet()));
                return Mono.when(out.sendObject(frames).then(), in.receive().then())
                        .doFinally(signal -> open.decrementAndGet());
            }
            Sinks.Many<WebSocketFrame> outgoing = Sinks.many().unicast().onBackpressureBuffer();
            outgoing.tryEmitNext(text(event("session.created", "\"session\":{\"id\":\"sess_1\",\"model\":\"gpt-realtime\"}")));
            Mono<Void> reading = in.receive().asString().doOnNext(message -> answer(message, outgoing, out)).then();
            return Mono.when(out.sendObject(outgoing.asFlux()).then(), reading)
                    .doFinally(signal -> open.decrementAndGet());
        }, spec.build());
    }

    private void answer(String message, Sinks.Many<WebSocketFrame> outgoing,
            reactor.netty.http.websocket.WebsocketOutbound out) {
        JsonNode event;
        try {
            event = JSON.readTree(message);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        switch (event.path("type").asText()) {
            case "response.create" -> {
                outgoing.tryEmitNext(text(event("response.created", "\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}")));
                outgoing.tryEmitNext(text(event("response.output_text.delta", "\"response_id\":\"resp_1\",\"delta\":\"Hel\"")));
                outgoing.tryEmitNext(text(event("response.audio.delta", "\"response_id\":\"resp_1\",\"delta\":\"UklGRg==\"")));
                outgoing.tryEmitNext(text(event("response.done", "\"response\":{\"id\":\"resp_1\",\"status\":\"completed\","
                        + "\"usage\":" + USAGE + "}")));
            }
            case "test.close" -> out.sendClose(event.path("code").asInt(), event.path("reason").asText()).subscribe();
            default -> { }
        }
    }

    private static String event(String type, String rest) {
        return "{\"type\":\"" + type + "\",\"event_id\":\"evt_" + System.nanoTime() + "\"," + rest + "}";
    }

    private static WebSocketFrame text(String json) {
        return new io.netty.handler.codec.http.websocketx.TextWebSocketFrame(json);
    }

    private static Mono<Void> error(HttpServerResponse response, int status, String body) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return response.status(status).header("content-type", "application/json")
                .header("content-length", Integer.toString(bytes.length))
                .sendByteArray(Mono.just(bytes)).then();
    }

    @Override
    public void close() {
        server.disposeNow();
    }

}
