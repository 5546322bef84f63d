package io.keymux.server.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * An in-process upstream on port 0 that records every request it sees and answers as scripted:
 * one-shot replies from {@link #enqueue}, otherwise the {@link #defaultReply} function.
 */
public final class UpstreamStub implements AutoCloseable {

    /** What the stub saw. Headers are a copy; the body is the full request body. */
    public record Recorded(String method, String path, @Nullable String query, HttpHeaders headers, byte[] body) {
        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /**
     * A scripted answer.
     *
     * @param chunks the body, chunk by chunk (each flushed on its own); {@code null} never answers
     */
    public record Reply(int status, Map<String, String> headers, @Nullable Publisher<String> chunks) {
        public static Reply json(int status, String body) {
            return new Reply(status, Map.of("content-type", "application/json"), Flux.just(body));
        }

        public static Reply sse(Publisher<String> events) {
            return new Reply(200, Map.of("content-type", "text/event-stream", "cache-control", "no-cache"), events);
        }

        public static Reply hang() {
            return new Reply(200, Map.of(), null);
        }

        /**
         * This reply, with its status and headers flushed before the first body chunk (so a body
         * that never comes stalls after the headers rather than before them).
         */
        public Reply headersFirst() {
            return withHeader(HEADERS_FIRST, "true");
        }

        /**
         * This reply, with the connection closed right after the last chunk instead of ending the
         * answer: the upstream breaks mid-body. Without a Content-Length header, one much larger
         * than the body is declared, so the close is an early one whatever the chunks are.
         */
        public Reply closeAfterBody() {
            return withHeader(CLOSE_AFTER_BODY, "true");
        }

        public Reply withHeader(String name, String value) {
            Map<String, String> h = new java.util.LinkedHashMap<>(headers);
            h.put(name, value);
            return new Reply(status, h, chunks);
        }
    }

    /** Marker of {@link Reply#headersFirst()}; never sent. */
    static final String HEADERS_FIRST = "x-stub-headers-first";
    /** Marker of {@link Reply#closeAfterBody()}; never sent. */
    static final String CLOSE_AFTER_BODY = "x-stub-close-after-body";

    public static final String CHAT_COMPLETION = """
            {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o",\
            "choices":[{"index":0,"message":{"role":"assistant","content":"hello from stub","refusal":null},\
            "finish_reason":"stop","logprobs":null}],\
            "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}""";

    /** One SSE event of a streamed chat completion carrying {@code content}. */
    public static String chunkEvent(String content) {
        return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                + "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + content
                + "\"},\"finish_reason\":null}]}\n\n";
    }

    private final DisposableServer server;
    private final List<Recorded> recorded = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final ConcurrentLinkedQueue<Reply> queue = new ConcurrentLinkedQueue<>();
    private volatile Function<Recorded, Reply> defaultReply = r -> Reply.json(200, CHAT_COMPLETION);

    public UpstreamStub() {
        this.server = HttpServer.create().host("127.0.0.1").port(0)
                // Once per accepted channel (doOnConnection runs once per request on a kept-alive one).
                .doOnChannelInit((observer, channel, remote) -> connections.incrementAndGet())
                .handle(this::serve).bindNow();
    }

    private Publisher<Void> serve(HttpServerRequest req, HttpServerResponse res) {
        return req.receive().aggregate().asByteArray().defaultIfEmpty(new byte[0]).flatMap(body -> {
            String uri = req.uri();
            int q = uri.indexOf('?');
            HttpHeaders copy = new DefaultHttpHeaders().set(req.requestHeaders());
            Recorded r = new Recorded(req.method().name(), q < 0 ? uri : uri.substring(0, q),
                    q < 0 ? null : uri.substring(q + 1), copy, body);
            recorded.add(r);
            Reply reply = queue.poll();
            if (reply == null) {
                reply = defaultReply.apply(r);
            }
            if (reply.chunks() == null) {
                return Mono.never();
            }
            res.status(reply.status());
            boolean headersFirst = reply.headers().containsKey(HEADERS_FIRST);
            boolean closeAfter = reply.headers().containsKey(CLOSE_AFTER_BODY);
            reply.headers().forEach((name, value) -> {
                if (!name.equals(HEADERS_FIRST) && !name.equals(CLOSE_AFTER_BODY)) {
                    res.header(name, value);
                }
            });
            if (closeAfter && !res.responseHeaders().contains("content-length")) {
                res.header("content-length", "1000000");
            }
            Flux<ByteBuf> body2 = Flux.from(reply.chunks())
                    .map(s -> Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
            Mono<Void> headers = headersFirst || closeAfter ? res.sendHeaders().then() : Mono.empty();
            Mono<Void> sent = headers.then(res.send(body2, b -> true).then());
            if (closeAfter) {
                // Never end the answer: close the connection once the chunks are written.
                return sent.then(Mono.fromRunnable(() -> res.withConnection(c -> c.channel().close())))
                        .then(Mono.never());
            }
            return sent;
        });
    }

    /** Answers the next request with this reply (before the default). */
    public UpstreamStub enqueue(Reply reply) {
        queue.add(reply);
        return this;
    }

    /** Answers every request not covered by {@link #enqueue}. */
    public UpstreamStub defaultReply(Function<Recorded, Reply> reply) {
        this.defaultReply = reply;
        return this;
    }

    public List<Recorded> recorded() {
        return recorded;
    }

    /** Connections accepted so far: tells a reused upstream connection from a new one. */
    public int connections() {
        return connections.get();
    }

    public Recorded last() {
        return recorded.get(recorded.size() - 1);
    }

    public int port() {
        return server.port();
    }

    public URI baseUrl() {
        return URI.create("http://127.0.0.1:" + port());
    }

    @Override
    public void close() {
        server.disposeNow(Duration.ofSeconds(5));
    }
}
