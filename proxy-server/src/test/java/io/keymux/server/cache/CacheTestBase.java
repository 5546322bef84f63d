package io.keymux.server.cache;


import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.time.TimeSource;
import io.keymux.server.KeymuxServer;
import io.keymux.server.testing.KeymuxTestBase;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.io.TempDir;
import reactor.netty.http.client.HttpClient;

/**
 * Cache tests: the config is YAML through the real loader, the stub's answers are scripted, and the
 * server runs on a clock the test can move forward (real time plus an offset).
 */
abstract class CacheTestBase extends KeymuxTestBase {
    static final String ADMIN_TOKEN = "adm-cache-token-51c7";
    static final String APP_KEY = "ck-cache-app-9e01d2";
    static final String OTHER_KEY = "ck-cache-other-3b88f0";
    static final String POOL_KEY = "sk-cache-pool-77ac41";
    static final Map<String, String> ENV = Map.of("ADMIN_TOKEN", ADMIN_TOKEN, "APP_KEY", APP_KEY,
            "OTHER_KEY", OTHER_KEY, "POOL_KEY", POOL_KEY);
    static final ObjectMapper JSON = new ObjectMapper();
    static final String CHAT = "/v1/chat/completions";
    static final String BODY = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final String STREAM_BODY =
            "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    /**
     * Tasks: chat (client scope), shared (task scope), nostream (stream: false), plain (no cache),
     * wide_a and wide_b (global scope).
     */
    static final String TASKS = """
            tasks:
              - { name: chat, cache: { enabled: true, ttl: 10m } }
              - { name: shared, cache: { enabled: true, ttl: 10m, scope: task } }
              - { name: nostream, cache: { enabled: true, ttl: 10m, stream: false } }
              - { name: plain }
              - { name: wide_a, cache: { enabled: true, ttl: 10m, scope: global } }
              - { name: wide_b, cache: { enabled: true, ttl: 10m, scope: global } }
            default_task: chat
            api_keys:
              - { key_id: k1, api_key: "${POOL_KEY}", task_types: ["*"], cost_per_token: 0.001 }
            clients:
              - { name: app, key: "${APP_KEY}" }
              - { name: other, key: "${OTHER_KEY}" }
            """;

    @TempDir
    Path dir;

    /** The server's clock: real time plus {@link #skip}. */
    final ShiftedTime time = new ShiftedTime();

    static final class ShiftedTime implements TimeSource {
        private volatile long offsetNanos;

        void skip(Duration d) {
            offsetNanos += d.toNanos();
        }

        @Override
        public long nanoTime() {
            return System.nanoTime() + offsetNanos;
        }

        @Override
        public long currentTimeMillis() {
            return System.currentTimeMillis() + offsetNanos / 1_000_000;
        }
    }

    KeymuxConfig yaml(String yaml) {
        String text = "server: { port: 0, admin_port: 0, bind: 127.0.0.1 }\n"
                + "upstreams:\n  stub: { base_url: \"" + stub.baseUrl() + "\", auth: bearer }\n"
                + "default_upstream: stub\nadmin: { token: \"${ADMIN_TOKEN}\" }\n" + yaml;
        return TestConfigs.yaml(dir, text, ENV);
    }

    KeymuxServer start(String extraYaml) {
        keymux = KeymuxServer.builder(yaml(extraYaml + TASKS)).timeSource(time).start();
        return keymux;
    }

    OpenAIClient sdk(String clientKey) {
        return OpenAIOkHttpClient.builder().baseUrl(proxyUrl() + "/v1").apiKey(clientKey).maxRetries(0).build();
    }

    /** A raw POST with the {@code app} client's key. */
    Answer chat(String task, String body, String... headers) {
        String[] all = new String[headers.length + 4];
        all[0] = "Authorization";
        all[1] = "Bearer " + APP_KEY;
        all[2] = "X-Task-Type";
        all[3] = task;
        System.arraycopy(headers, 0, all, 4, headers.length);
        return post(CHAT, body, all);
    }

    Answer admin(HttpMethod method, String path, @Nullable String token) {
        return HttpClient.create()
                .baseUrl("http://127.0.0.1:" + keymux.adminPort())
                .headers(h -> {
                    if (token != null) {
                        h.set("Authorization", "Bearer " + token);
                    }
                })
                .request(method)
                .uri(path)
                .responseSingle((res, body) -> body.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(s -> new Answer(res.status().code(), res.responseHeaders(), s)))
                .block(TIMEOUT);
    }

    String scrape() {
        return admin(HttpMethod.GET, "/metrics", null).body();
    }

    static @Nullable Double sample(String text, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
        return m.find() ? Double.valueOf(m.group(1)) : null;
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Polls {@code condition} until it holds or the test timeout passes. */
    static void await(String what, BooleanSupplier condition) {
        io.keymux.config.testing.Await.until(what, condition, TIMEOUT);
    }

    int atStub() {
        return stub.recorded().size();
    }
}
