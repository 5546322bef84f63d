package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.RetryPolicy;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.Timeouts;
import io.keymux.config.model.UpstreamConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyStatus;
import io.keymux.core.time.TimeSource;
import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.keymux.server.testing.UpstreamStub;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;

/**
 * Fault-injection tests: keymux in front of the {@link UpstreamStub}, with keys {@code k1}
 * ({@value TestConfigs#POOL_KEY_1}, preferred by the {@code priority} strategy) and {@code k2}
 * ({@value TestConfigs#POOL_KEY_2}) on task {@code chat}, and optionally a key on an upstream whose
 * port is closed. The broker is captured so tests can read {@link KeyBroker#keyStates()}.
 */
abstract class FailoverTestBase extends KeymuxTestBase {
    static final String DEAD_KEY = "sk-pool-key-dead";

    protected @Nullable KeyBroker broker;
    protected final Clock clock = new Clock();

    /** The system clock plus an offset tests can push forward, to pass cooldowns without sleeping. */
    static final class Clock implements TimeSource {
        private final AtomicLong offsetNanos = new AtomicLong();

        void advance(Duration d) {
            offsetNanos.addAndGet(d.toNanos());
        }

        @Override
        public long nanoTime() {
            return System.nanoTime() + offsetNanos.get();
        }

        @Override
        public long currentTimeMillis() {
            return System.currentTimeMillis() + offsetNanos.get() / 1_000_000L;
        }
    }

    /** A config under construction; every knob the failover tests turn. */
    final class Setup {
        Strategy strategy = Strategy.PRIORITY;
        RetryPolicy retryOn = RetryPolicy.defaults();
        Timeouts timeouts = Timeouts.defaults();
        int maxAttempts = 3;
        Duration maxWait = Duration.ofMillis(300);
        HealthConfig health = HealthConfig.defaults();
        final List<ApiKeyConfig> keys = new ArrayList<>();
        final List<ClientConfig> clients = new ArrayList<>();
        /** More upstreams (bearer auth) by name, beside {@code stub} and {@code dead}. */
        final Map<String, URI> moreUpstreams = new LinkedHashMap<>();

        Setup key(String id, String secret, String upstream, int priority) {
            keys.add(ApiKeyConfig.builder(id, Secret.of(secret)).upstream(upstream).taskTypes("chat").priority(priority)
                    .build());
            return this;
        }

        /** k1 (priority 2) and k2 (priority 1), both on the stub. */
        Setup twoKeys() {
            return key("k1", TestConfigs.POOL_KEY_1, "stub", 2).key("k2", TestConfigs.POOL_KEY_2, "stub", 1);
        }

        Setup client(String name, String key, @Nullable Long maxRpm) {
            clients.add(ClientConfig.builder(name).key(Secret.of(key)).maxRpm(maxRpm).build());
            return this;
        }

        KeymuxConfig build() {
            TaskConfig task = TaskConfig.builder("chat").strategy(strategy).upstream("stub").maxWait(maxWait)
                    .maxAttempts(maxAttempts).retryOn(retryOn).timeouts(timeouts).health(health).build();
            List<ClientConfig> c = clients.isEmpty()
                    ? List.of(ClientConfig.builder("app").key(Secret.of(TestConfigs.CLIENT_KEY)).build())
                    : clients;
            ServerConfig server = ServerConfig.builder().port(0).adminPort(0).drainTimeout(Duration.ofSeconds(5))
                    .bind("127.0.0.1").build();
            Map<String, UpstreamConfig> upstreams = new LinkedHashMap<>();
            upstreams.put("stub", new UpstreamConfig("stub", stub.baseUrl(), AuthStyle.BEARER));
            upstreams.put("dead", new UpstreamConfig("dead", closedPort(), AuthStyle.BEARER));
            moreUpstreams.forEach((name, url) -> upstreams.put(name, new UpstreamConfig(name, url, AuthStyle.BEARER)));
            return KeymuxConfig.builder().server(server).health(health).upstreams(upstreams).defaultUpstream("stub")
                    .defaultTask("chat").task(task).apiKeys(keys).clients(c).build();
        }
    }

    Setup setup() {
        return new Setup();
    }

    /** Starts keymux on {@link #clock}, keeping hold of its broker. */
    protected KeymuxServer start(KeymuxConfig config) {
        keymux = KeymuxServer.builder(config).timeSource(clock).broker((c, t) -> {
            KeyBroker b = KeyBroker.create(c, t);
            broker = b;
            return b;
        }).start();
        return keymux;
    }

    /** An address nothing listens on: a port bound once and released. */
    static URI closedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return URI.create("http://127.0.0.1:" + socket.getLocalPort());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    OpenAIClient sdk() {
        return sdk(TestConfigs.CLIENT_KEY);
    }

    OpenAIClient sdk(String clientKey) {
        return OpenAIOkHttpClient.builder()
                .baseUrl(proxyUrl() + "/v1")
                .apiKey(clientKey)
                .maxRetries(0)
                .timeout(Duration.ofSeconds(20))
                .build();
    }

    static ChatCompletionCreateParams params() {
        return ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("hi").build();
    }

    KeyStatus state(String keyId) {
        return broker.keyStates().stream().filter(k -> k.keyId().equals(keyId)).findFirst().orElseThrow();
    }

    /**
     * Waits (bounded, polling every 10 ms) until the key is in {@code expected}: an answer is settled
     * once the upstream has sent it all, which may be just after the client read its last byte.
     */
    void awaitState(String keyId, KeyStatus.State expected) {
        KeyStatus.State reached = Flux.interval(Duration.ofMillis(10))
                .map(i -> state(keyId).state())
                .filter(expected::equals)
                .next()
                .block(TIMEOUT);
        assertThat(reached).isEqualTo(expected);
    }

    /** Waits (bounded, polling every 10 ms) until the key's settled token counters reach these. */
    void awaitTokens(String keyId, long prompt, long completion) {
        KeyStatus reached = Flux.interval(Duration.ofMillis(10))
                .map(i -> state(keyId))
                .filter(k -> k.promptTokens() == prompt && k.completionTokens() == completion)
                .next()
                .block(TIMEOUT);
        assertThat(reached).isNotNull();
    }

    /** Which pool key an upstream request carried. */
    static String keyOf(UpstreamStub.Recorded r) {
        String auth = r.headers().get("Authorization");
        if (auth == null) {
            return "none";
        }
        return switch (auth.substring("Bearer ".length())) {
            case TestConfigs.POOL_KEY_1 -> "k1";
            case TestConfigs.POOL_KEY_2 -> "k2";
            default -> "other";
        };
    }

    List<String> keysSeen() {
        return stub.recorded().stream().map(FailoverTestBase::keyOf).toList();
    }

    /** A 200 chat completion from the stub for requests with key {@code k2}, this reply for others. */
    void k1Answers(UpstreamStub.Reply k1Reply) {
        stub.defaultReply(r -> keyOf(r).equals("k1") ? k1Reply : UpstreamStub.Reply.json(200, UpstreamStub.CHAT_COMPLETION));
    }
}
