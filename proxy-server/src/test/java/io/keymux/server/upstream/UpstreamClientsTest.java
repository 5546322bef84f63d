package io.keymux.server.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.Await;
import io.keymux.server.testing.UpstreamStub;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.resolver.DefaultAddressResolverGroup;
import io.netty.util.concurrent.EventExecutor;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.netty.resources.LoopResources;

/**
 * Each event loop has its own upstream pool, whose connections live on that loop and are reused
 * once an answer is in whole; a connection to nowhere fails the exchange with an I/O error.
 */
class UpstreamClientsTest {

    @Test
    void eachLoopsPoolOpensItsConnectionsOnThatLoopAndReusesThem() throws Exception {
        LoopResources loops = LoopResources.create("upstream-clients-test", 3, true);
        try (UpstreamStub stub = new UpstreamStub(); UpstreamClients clients = new UpstreamClients(loops)) {
            EventLoopGroup group = loops.onServer(LoopResources.hasNativeSupport());
            List<EventLoop> all = new ArrayList<>();
            for (EventExecutor executor : group) {
                all.add((EventLoop) executor);
            }
            assertThat(all).hasSize(3);
            Origin origin = Origin.of(stub.baseUrl());
            for (EventLoop loop : all) {
                UpstreamPool pool = clients.on(loop);
                Seen first = exchange(pool, origin, stub.baseUrl()).get(10, TimeUnit.SECONDS);
                Seen second = exchange(pool, origin, stub.baseUrl()).get(10, TimeUnit.SECONDS);
                assertThat(first.loop()).isSameAs(loop);
                assertThat(first.status()).isEqualTo(200);
                assertThat(first.body()).contains("chat.completion");
                assertThat(second.channelId()).as("the second exchange reuses the pooled connection")
                        .isEqualTo(first.channelId());
            }
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        }
    }

    @Test
    void closingClosesTheBusyConnectionsTooBeforeItReturns() throws Exception {
        LoopResources loops = LoopResources.create("upstream-clients-busy", 1, true);
        try (UpstreamStub stub = new UpstreamStub()) {
            stub.defaultReply(r -> UpstreamStub.Reply.hang());
            UpstreamClients clients = new UpstreamClients(loops);
            EventLoop loop = (EventLoop) loops.onServer(LoopResources.hasNativeSupport()).iterator().next();
            CompletableFuture<Channel> sent = new CompletableFuture<>();
            CompletableFuture<Throwable> failed = new CompletableFuture<>();
            loop.execute(() -> clients.on(loop).acquire(Origin.of(stub.baseUrl()), 2000).addListener(done -> {
                UpstreamConnection connection = (UpstreamConnection) done.getNow();
                DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                        "/v1/models");
                request.headers().set(HttpHeaderNames.HOST, stub.baseUrl().getAuthority());
                connection.send(request, new UpstreamConnection.Answer() {
                    @Override
                    public void head(HttpResponse head) {}

                    @Override
                    public void content(ByteBuf content, boolean last) {
                        content.release();
                    }

                    @Override
                    public void failed(Throwable error) {
                        failed.complete(error);
                    }
                });
                sent.complete(connection.channel());
            }));
            Channel busy = sent.get(10, TimeUnit.SECONDS);
            Await.until("the stub to have the request", () -> stub.recorded().size() == 1, Duration.ofSeconds(10));

            clients.close();

            // Closed, and its exchange told, before the loops may stop (no task of it left to refuse).
            assertThat(busy.isOpen()).isFalse();
            assertThat(busy.closeFuture().isDone()).isTrue();
            assertThat(failed).isDone();
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        }
    }

    @Test
    void aRefusedConnectFailsWithAnIoError() throws Exception {
        LoopResources loops = LoopResources.create("upstream-clients-refused", 1, true);
        try (UpstreamClients clients = new UpstreamClients(loops)) {
            int closedPort;
            try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
                closedPort = socket.getLocalPort();
            }
            EventLoop loop = (EventLoop) loops.onServer(LoopResources.hasNativeSupport()).iterator().next();
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            loop.execute(() -> clients.on(loop).acquire(new Origin("127.0.0.1", closedPort, false), 2000)
                    .addListener(done -> failure.complete(done.cause())));
            assertThat(failure.get(10, TimeUnit.SECONDS)).isInstanceOf(java.io.IOException.class);
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        }
    }

    @Test
    void aSocketThatCannotBeOpenedFailsWithAnIoErrorLikeARefusedConnect() throws Exception {
        LoopResources loops = LoopResources.create("upstream-clients-emfile", 1, true);
        try {
            EventLoop loop = (EventLoop) loops.onServer(LoopResources.hasNativeSupport()).iterator().next();
            UpstreamPool pool = new UpstreamPool(loop, OutOfFileDescriptors.class, DefaultAddressResolverGroup.INSTANCE,
                    SslContextBuilder.forClient().build());
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            loop.execute(() -> pool.acquire(new Origin("127.0.0.1", 9, false), 2000)
                    .addListener(done -> failure.complete(done.cause())));
            assertThat(failure.get(10, TimeUnit.SECONDS)).isInstanceOf(java.io.IOException.class)
                    .hasMessageContaining("Too many open files");
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        }
    }

    /** A channel whose socket cannot be opened, as when the process is out of file descriptors. */
    public static final class OutOfFileDescriptors extends NioSocketChannel {
        public OutOfFileDescriptors() {
            throw new ChannelException(new java.io.IOException("newSocketStream(..) failed: Too many open files"));
        }
    }

    /** One GET through a connection of {@code pool}, on the pool's loop. */
    private static CompletableFuture<Seen> exchange(UpstreamPool pool, Origin origin, URI base) {
        CompletableFuture<Seen> seen = new CompletableFuture<>();
        pool.loop().execute(() -> pool.acquire(origin, 2000).addListener(done -> {
            if (!done.isSuccess()) {
                seen.completeExceptionally(done.cause());
                return;
            }
            UpstreamConnection connection = (UpstreamConnection) done.getNow();
            DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST,
                    "/v1/chat/completions", io.netty.buffer.Unpooled.copiedBuffer("{}", StandardCharsets.UTF_8));
            request.headers().set(HttpHeaderNames.HOST, base.getAuthority())
                    .set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                    .set(HttpHeaderNames.CONTENT_LENGTH, 2);
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            int[] status = {0};
            connection.send(request, new UpstreamConnection.Answer() {
                @Override
                public void head(HttpResponse head) {
                    status[0] = head.status().code();
                }

                @Override
                public void content(ByteBuf content, boolean last) {
                    byte[] bytes = new byte[content.readableBytes()];
                    content.readBytes(bytes);
                    content.release();
                    body.writeBytes(bytes);
                    if (last) {
                        seen.complete(new Seen(connection.channel().eventLoop(),
                                connection.channel().id().asLongText(), status[0],
                                body.toString(StandardCharsets.UTF_8)));
                    }
                }

                @Override
                public void failed(Throwable error) {
                    seen.completeExceptionally(error);
                }
            });
        }));
        return seen;
    }

    private record Seen(EventLoop loop, String channelId, int status, String body) {}
}
