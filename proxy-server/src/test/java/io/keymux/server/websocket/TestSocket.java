package io.keymux.server.websocket;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.WebsocketClientSpec;
import reactor.netty.http.websocket.WebsocketOutbound;

/**
 * A test's WebSocket client (Reactor Netty's, on Netty's WebSocket codec): text messages received
 * go into a queue, text to send goes out as it is offered, and the close status the other side sent
 * is kept. With {@code slow}, nothing is read until {@link #readAll()}: Reactor Netty then stops
 * reading the socket, as a client that cannot keep up would.
 */
final class TestSocket implements AutoCloseable {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    final CompletableFuture<WebSocketCloseStatus> closeStatus = new CompletableFuture<>();
    final CompletableFuture<HttpHeaders> responseHeaders = new CompletableFuture<>();
    final CompletableFuture<Throwable> failure = new CompletableFuture<>();
    final CompletableFuture<@Nullable String> subprotocol = new CompletableFuture<>();
    private final Sinks.Many<String> outgoing = Sinks.many().unicast().onBackpressureBuffer();
    private final AtomicReference<WebsocketOutbound> out = new AtomicReference<>();
    private final AtomicReference<BaseSubscriber<WebSocketFrame>> slowReader = new AtomicReference<>();
    final java.util.concurrent.atomic.AtomicLong framesRead = new java.util.concurrent.atomic.AtomicLong();
    final java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();

    private TestSocket() {}

    /** Connects to {@code url} with these headers and offered subprotocols ({@code null}: none). */
    static TestSocket connect(String url, Map<String, String> headers, @Nullable String protocols, boolean slow) {
        TestSocket socket = new TestSocket();
        WebsocketClientSpec.Builder spec = WebsocketClientSpec.builder().maxFramePayloadLength(1 << 20);
        if (protocols != null) {
            spec.protocols(protocols);
        }
        HttpClient.create()
                .headers(h -> headers.forEach(h::set))
                .doOnResponse((response, connection) -> socket.responseHeaders.complete(response.responseHeaders()))
                .websocket(spec.build())
                .uri(url)
                .handle((in, outbound) -> {
                    socket.out.set(outbound);
                    socket.subprotocol.complete(in.selectedSubprotocol());
                    in.receiveCloseStatus().subscribe(socket.closeStatus::complete);
                    Mono<Void> reading;
                    if (slow) {
                        BaseSubscriber<WebSocketFrame> reader = new BaseSubscriber<>() {
                            @Override
                            protected void hookOnSubscribe(org.reactivestreams.Subscription subscription) {
                                request(1); // session.created, then nothing until readAll()
                            }

                            @Override
                            protected void hookOnNext(WebSocketFrame frame) {
                                socket.framesRead.incrementAndGet();
                                socket.bytesRead.addAndGet(frame.content().readableBytes());
                            }
                        };
                        socket.slowReader.set(reader);
                        in.receiveFrames().subscribe(reader);
                        reading = Mono.never();
                    } else {
                        reading = in.receive().asString().doOnNext(socket.received::add).then();
                    }
                    return Mono.when(outbound.sendString(socket.outgoing.asFlux()).then(), reading);
                })
                .subscribe(null, socket.failure::complete, () -> { });
        return socket;
    }

    void send(String text) {
        outgoing.tryEmitNext(text);
    }

    /** The next text message, waiting at most 20 s. */
    String next() throws InterruptedException {
        String message = received.poll(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        if (message == null) {
            throw new AssertionError("no message within " + TIMEOUT);
        }
        return message;
    }

    /** Waits for the next message whose {@code type} is {@code type}, skipping others. */
    String nextOfType(String type) throws InterruptedException {
        while (true) {
            String message = next();
            if (message.contains("\"type\":\"" + type + "\"")) {
                return message;
            }
        }
    }

    void closeWith(int code, String reason) {
        WebsocketOutbound outbound = out.get();
        if (outbound != null) {
            outbound.sendClose(code, reason).subscribe(null, e -> { });
        }
    }

    /** A slow reader starts reading everything. */
    void readAll() {
        slowReader.get().request(Long.MAX_VALUE);
    }

    WebSocketCloseStatus awaitClose() throws Exception {
        return closeStatus.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        WebsocketOutbound outbound = out.get();
        if (outbound != null) {
            outbound.withConnection(c -> c.dispose());
        }
    }
}
