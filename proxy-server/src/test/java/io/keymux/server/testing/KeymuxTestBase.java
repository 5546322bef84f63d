package io.keymux.server.testing;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.KeymuxServer;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * Starts an {@link UpstreamStub} before each test and disposes it and any keymux started with
 * {@link #startKeymux} after, in the manner of Reactor Netty's own test base classes.
 */
public abstract class KeymuxTestBase {
    protected static final Duration TIMEOUT = Duration.ofSeconds(20);

    protected UpstreamStub stub;
    protected @Nullable KeymuxServer keymux;
    private @Nullable ConnectionProvider clientPool;

    /** A simple response as the test client saw it. */
    public record Answer(int status, HttpHeaders headers, String body) {}

    @BeforeEach
    void startStub() {
        stub = new UpstreamStub();
    }

    @AfterEach
    void stopAll() {
        if (keymux != null) {
            keymux.close();
        }
        if (clientPool != null) {
            clientPool.disposeLater().block(TIMEOUT);
        }
        stub.close();
    }

    /** {@link TestConfigs}' preset with the stub as upstream {@value TestConfigs#UPSTREAM}. */
    protected TestConfigs config() {
        return TestConfigs.upstream(stub.baseUrl());
    }

    protected KeymuxServer startKeymux(KeymuxConfig config) {
        keymux = KeymuxServer.start(config);
        return keymux;
    }

    protected String proxyUrl() {
        return "http://127.0.0.1:" + keymux.proxyPort();
    }

    /** A Reactor Netty client for driving keymux (pooled; disposed after the test). */
    protected HttpClient client() {
        if (clientPool == null) {
            clientPool = ConnectionProvider.builder("test-client").maxConnections(1000).pendingAcquireMaxCount(-1)
                    .build();
        }
        return HttpClient.create(clientPool).baseUrl(proxyUrl());
    }

    /** Sends one request with the default client key and waits for the whole answer. */
    protected Answer call(String method, String uri, @Nullable String body, String... headerPairs) {
        return client()
                .headers(h -> {
                    h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY);
                    if (body != null) {
                        h.set("Content-Type", "application/json");
                    }
                    for (int i = 0; i + 1 < headerPairs.length; i += 2) {
                        h.set(headerPairs[i], headerPairs[i + 1]);
                    }
                })
                .request(io.netty.handler.codec.http.HttpMethod.valueOf(method))
                .uri(uri)
                .send((req, out) -> body == null ? out : out.sendString(Mono.just(body)))
                .responseSingle((res, content) -> content.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(s -> new Answer(res.status().code(), res.responseHeaders(), s)))
                .block(TIMEOUT);
    }

    protected Answer post(String uri, String body, String... headerPairs) {
        return call("POST", uri, body, headerPairs);
    }

    protected static String chatBody(String model) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }
}
