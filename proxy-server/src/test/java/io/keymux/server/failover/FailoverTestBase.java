package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.Strategy;
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
import java.util.List;
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

    /**
     * The failover tests' preset, on top of {@link #config()}: task {@code chat} (still the default task)
     * on the {@code priority} strategy with a 300 ms {@code max_wait}, a 5 s drain, and upstream
     * {@code dead} (a closed port) beside {@code stub}. The first key a test adds replaces the
     * preset's.
     */
    TestConfigs setup() {
        return config()
                .server(s -> s.drainTimeout(Duration.ofSeconds(5)))
                .upstream("dead", closedPort(), AuthStyle.BEARER)
                .task(TestConfigs.TASK, t -> t.strategy(Strategy.PRIORITY).maxWait(Duration.ofMillis(300)))
                .defaultTask(TestConfigs.TASK);
    }

    /** {@link #setup()} with k1 (priority 2) and k2 (priority 1), both on the stub. */
    TestConfigs twoKeys() {
        return setup().key(chatKey("k1", TestConfigs.POOL_KEY_1, "stub", 2))
                .key(chatKey("k2", TestConfigs.POOL_KEY_2, "stub", 1));
    }

    /** A key of task {@code chat} on {@code upstream}, ranked by the {@code priority} strategy as {@code priority} says. */
    static ApiKeyConfig.Builder chatKey(String id, String secret, String upstream, int priority) {
        return ApiKeyConfig.builder(id, Secret.of(secret)).upstream(upstream).taskTypes(TestConfigs.TASK)
                .priority(priority);
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
