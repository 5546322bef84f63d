package io.keymux.image;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * An OpenAI-shaped upstream on a loopback port of the test JVM (the container shares the host's
 * network): {@code POST /v1/chat/completions} answers JSON, or SSE chunks with usage and
 * {@code data: [DONE]} when the body asks for a stream. A stream stops after its first chunk until
 * {@link #gate} is opened, so a test can act while a stream is in flight.
 */
final class UpstreamStub implements AutoCloseable {
    static final String ANSWER = "hello from the stub";
    private static final String CHUNK = "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}";
    private static final String LAST = "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";

    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private volatile CountDownLatch gate = new CountDownLatch(0);
    private final CountDownLatch firstChunkSent = new CountDownLatch(1);

    UpstreamStub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.setExecutor(threads);
        server.createContext("/v1/chat/completions", this::chat);
        server.start();
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Authorization headers of the requests seen, in order. */
    List<String> authorizations() {
        return List.copyOf(authorizations);
    }

    /** Holds every later stream after its first chunk until the returned latch is counted down. */
    CountDownLatch holdStreams() {
        CountDownLatch held = new CountDownLatch(1);
        gate = held;
        return held;
    }

    /** Waits for a held stream's first chunk to leave the stub. */
    boolean awaitFirstChunk(long seconds) throws InterruptedException {
        return firstChunkSent.await(seconds, TimeUnit.SECONDS);
    }

    private void chat(HttpExchange exchange) throws IOException {
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        authorizations.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
        if (body.replace(" ", "").contains("\"stream\":true")) {
            stream(exchange);
            return;
        }
        byte[] json = ("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\","
                + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + ANSWER + "\"},"
                + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}")
                .getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, json.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(json);
        }
    }

    private void stream(HttpExchange exchange) throws IOException {
        CountDownLatch held = gate;
        exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        try (OutputStream out = exchange.getResponseBody()) {
            event(out, CHUNK.formatted("hello"));
            if (held.getCount() > 0) {
                firstChunkSent.countDown();
                if (!held.await(60, TimeUnit.SECONDS)) {
                    return; // the test gave up; end the stream without [DONE]
                }
            }
            event(out, CHUNK.formatted(" from"));
            event(out, CHUNK.formatted(" the stub"));
            event(out, LAST);
            event(out, "[DONE]");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void event(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() {
        gate.countDown();
        server.stop(0);
        threads.shutdownNow();
    }
}
