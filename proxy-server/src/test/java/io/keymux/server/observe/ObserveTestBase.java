package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.config.load.ConfigLoader;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.Await;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.io.TempDir;
import reactor.netty.http.client.HttpClient;

/**
 * Observability tests: configs written as YAML (so they go through the real loader) with
 * {@code ${STUB}} for the stub's base URL and secrets from {@link #ENV}, plus an admin-port client
 * and a small reader of Prometheus text.
 */
abstract class ObserveTestBase extends KeymuxTestBase {
    static final String ADMIN_TOKEN = "adm-token-7f3c9a1e";
    static final String CLIENT = "ck-client-5b2e8d40";
    static final String KEY_A = "sk-upstream-a-91d4c2";
    static final String KEY_B = "sk-upstream-b-0e77fa";
    static final String KEY_C = "sk-upstream-c-6a01b9";
    static final String KEY_D = "sk-upstream-d-d4e2c7";
    static final Map<String, String> ENV = Map.of("ADMIN_TOKEN", ADMIN_TOKEN, "CLIENT_KEY", CLIENT,
            "KEY_A", KEY_A, "KEY_B", KEY_B, "KEY_C", KEY_C, "KEY_D", KEY_D);
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** Loads {@code yaml} through {@link ConfigLoader}, with both ports ephemeral on loopback. */
    KeymuxConfig yaml(String yaml) {
        return yaml(List.of(), yaml);
    }

    /** {@link #yaml(String)} with more upstreams, each another name for the stub's base URL. */
    KeymuxConfig yaml(List<String> moreUpstreams, String yaml) {
        StringBuilder upstreams = new StringBuilder("upstreams:\n  stub: { base_url: \"" + stub.baseUrl()
                + "\", auth: bearer }\n");
        for (String name : moreUpstreams) {
            upstreams.append("  ").append(name).append(": { base_url: \"").append(stub.baseUrl())
                    .append("\", auth: bearer }\n");
        }
        String text = "server: { port: 0, admin_port: 0, bind: 127.0.0.1 }\n" + upstreams
                + "default_upstream: stub\n" + yaml;
        return TestConfigs.yaml(dir, text, ENV);
    }

    /** GET on the admin port with {@code Authorization: Bearer token} when {@code token} is not null. */
    Answer admin(String path, @Nullable String token) {
        return adminCall(path, token == null ? null : "Bearer " + token);
    }

    Answer adminCall(String path, @Nullable String authorization) {
        return HttpClient.create()
                .baseUrl("http://127.0.0.1:" + keymux.adminPort())
                .headers(h -> {
                    if (authorization != null) {
                        h.set("Authorization", authorization);
                    }
                })
                .request(HttpMethod.GET)
                .uri(path)
                .responseSingle((res, body) -> body.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(s -> new Answer(res.status().code(), res.responseHeaders(), s)))
                .block(TIMEOUT);
    }

    /** POST on the admin port with an empty body and {@code Authorization: Bearer token} unless null. */
    Answer adminPost(String path, @Nullable String token) {
        return HttpClient.create()
                .baseUrl("http://127.0.0.1:" + keymux.adminPort())
                .headers(h -> {
                    if (token != null) {
                        h.set("Authorization", "Bearer " + token);
                    }
                })
                .request(HttpMethod.POST)
                .uri(path)
                .responseSingle((res, body) -> body.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(s -> new Answer(res.status().code(), res.responseHeaders(), s)))
                .block(TIMEOUT);
    }

    /** An authorised admin GET, parsed; fails unless 200. */
    JsonNode adminJson(String path) {
        Answer answer = admin(path, ADMIN_TOKEN);
        assertThat(answer.status()).as(path + ": " + answer.body()).isEqualTo(200);
        return parse(answer.body());
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A chat request with the test client key. */
    Answer chat(String task) {
        return post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + CLIENT,
                "X-Task-Type", task);
    }

    String scrape() {
        Answer answer = admin("/metrics", null);
        assertThat(answer.status()).isEqualTo(200);
        return answer.body();
    }

    /** The value of the Prometheus sample {@code series} (name with its labels, exactly as printed), or null. */
    static @Nullable Double sample(String text, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
        return m.find() ? Double.valueOf(m.group(1)) : null;
    }

    /** The sum of every sample of a metric name. */
    static double sum(String text, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*\\} (\\S+)$").matcher(text);
        double total = 0;
        while (m.find()) {
            total += Double.parseDouble(m.group(1));
        }
        return total;
    }

    /**
     * Waits until {@code keymux_requests_total} counts {@code n} requests: a request is counted after
     * its lease was settled and its answer sent, so the broker's and the registry's numbers are final.
     * Polls the admin port with a deadline; no sleeping.
     */
    void awaitCounted(int n) {
        double[] counted = {0};
        Await.until(() -> "keymux_requests_total to reach " + n + " (last seen: " + counted[0] + ")", () -> {
            counted[0] = sum(scrape(), "keymux_requests_total");
            return counted[0] >= n;
        }, TIMEOUT);
        assertThat(counted[0]).isEqualTo((double) n);
    }
}
