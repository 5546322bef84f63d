package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.publisher.Flux;

/**
 * Upstream answers classified by what the provider means, end to end: keymux in front of the stub
 * answering with the providers' real error bodies and headers, the official SDK as the client,
 * and the result read back from {@code /admin/keys}, {@code /admin/recommendations} and
 * {@code /metrics}.
 */
class ProviderMeaningsTest extends ObserveTestBase {
    static final String OPENAI_QUOTA = """
            {"error":{"message":"You exceeded your current quota, please check your plan and billing details. \
            For more information on this error, read the docs: \
            https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota",\
            "param":null,"code":"insufficient_quota"}}""";
    static final String NVIDIA_402 = """
            {"type":"urn:inference-service:problem-details:payment-required","title":"Payment Required",\
            "status":402,"detail":"Account 'f3c1e2': Cloud credits expired - Please contact NVIDIA representatives"}""";
    static final String OPENAI_RATE_LIMIT_GPT4O = """
            {"error":{"message":"Rate limit reached for gpt-4o in organization org-Zq3 on tokens per min (TPM): \
            Limit 30000, Used 29547, Requested 1068. Please try again in 20s. Visit \
            https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,\
            "code":"rate_limit_exceeded"}}""";
    static final String OPENAI_401 = """
            {"error":{"message":"Incorrect API key provided: sk-up***91d4. You can find your API key at \
            https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,\
            "code":"invalid_api_key"}}""";
    static final String ANTHROPIC_401 = """
            {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},\
            "request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}""";
    static final String NVIDIA_401 = """
            {"status":401,"title":"Unauthorized","detail":"Authentication failed"}""";
    static final String OPENAI_RESTRICTED_KEY = """
            {
                "error": {
                    "message": "You have insufficient permissions for this operation. Missing scopes: \
            api.responses.write. Check that you have the correct role in your organization (Reader, Writer, Owner) \
            and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
                    "type": "invalid_request_error",
                    "param": null,
                    "code": null
                }
            }
            """;
    static final String OPENAI_403_MODEL = """
            {"error":{"message":"Project proj_Qx7 does not have access to model gpt-4o","type":"invalid_request_error",\
            "param":null,"code":"model_not_found"}}""";
    static final String ANTHROPIC_403 = """
            {"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission \
            to use the specified resource."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fz"}""";
    static final String NVIDIA_403 = """
            {"status":403,"title":"Forbidden","detail":"Authorization failed"}""";
    static final String ANTHROPIC_529 = """
            {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""";
    static final String OPENAI_503_OVERLOADED = """
            {"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error",\
            "param":null,"code":null}}""";

    private OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder().baseUrl(proxyUrl() + "/v1").apiKey(CLIENT).maxRetries(0).build();
    }

    private static ChatCompletionCreateParams params(String model) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage("hi").build();
    }

    private static final String TWO_KEYS = """
            admin: { token: "${ADMIN_TOKEN}" }
            clients: [{ name: app, key: "${CLIENT_KEY}" }]
            default_task: chat
            tasks: [{ name: chat, max_wait: 0s }]
            api_keys:
              - { key_id: a, api_key: "${KEY_A}", task_types: [chat] }
              - { key_id: b, api_key: "${KEY_B}", task_types: [chat] }
            """;

    /** Key a answers {@code refusal}, every other key a completion. */
    private void keyARefuses(Reply refusal) {
        stub.defaultReply(r -> ("Bearer " + KEY_A).equals(r.headers().get("Authorization"))
                ? refusal : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
    }

    private List<String> keysSeen() {
        return stub.recorded().stream().map(r -> r.headers().get("Authorization").substring(7)).toList();
    }

    private JsonNode key(String keyId) {
        for (JsonNode k : adminJson("/admin/keys").get("keys")) {
            if (k.get("key_id").asText().equals(keyId)) {
                return k;
            }
        }
        throw new AssertionError("no key " + keyId);
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("OpenAI 429 insufficient_quota", Reply.json(429, OPENAI_QUOTA), "quota_exhausted"),
                // The same body in two chunks: the bounded look joins them before judging.
                Arguments.of("OpenAI 429 insufficient_quota, chunked", new Reply(429,
                        Map.of("content-type", "application/json"),
                        Flux.just(OPENAI_QUOTA.substring(0, 40), OPENAI_QUOTA.substring(40))), "quota_exhausted"),
                Arguments.of("NVIDIA 402", Reply.json(402, NVIDIA_402), "quota_exhausted"),
                Arguments.of("OpenAI 429 rate_limit_exceeded", Reply.json(429, OPENAI_RATE_LIMIT_GPT4O)
                        .withHeader("x-ratelimit-reset-tokens", "20s"), "cooling_down"),
                Arguments.of("OpenAI 401", Reply.json(401, OPENAI_401), "disabled"),
                Arguments.of("Anthropic 401 authentication_error", Reply.json(401, ANTHROPIC_401), "disabled"),
                Arguments.of("NVIDIA 401", Reply.json(401, NVIDIA_401), "disabled"));
    }

    static Stream<Arguments> missingPermissions() {
        return Stream.of(
                Arguments.of("OpenAI 401 restricted key, missing scopes", 401, OPENAI_RESTRICTED_KEY),
                Arguments.of("OpenAI 403 no access to the model", 403, OPENAI_403_MODEL),
                Arguments.of("Anthropic 403 permission_error", 403, ANTHROPIC_403),
                Arguments.of("NVIDIA NIM 403 for a model the account is not entitled to", 403, NVIDIA_403));
    }

    /**
     * SPEC 3.7: a 401/403 that says the key lacks permission for this request goes back to the
     * client unchanged and leaves the key as it is, so no client can take a shared key away.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("missingPermissions")
    void aMissingPermissionGoesBackUnchangedAndLeavesTheKeyActive(String name, int status, String body) {
        keyARefuses(Reply.json(status, body).withHeader("openai-processing-ms", "17"));
        startKeymux(yaml(TWO_KEYS));

        Answer refused = chat("chat");

        assertThat(refused.status()).as(name).isEqualTo(status);
        assertThat(refused.body()).isEqualTo(body);
        assertThat(refused.headers().get("openai-processing-ms")).isEqualTo("17");
        assertThat(refused.headers().get("X-Keymux-Key-Id")).isEqualTo("a");
        assertThat(refused.headers().get("X-Keymux-Attempts")).isEqualTo("1");
        assertThat(keysSeen()).containsExactly(KEY_A);
        assertThat(key("a").get("status").asText()).isEqualTo("active");
        // Round robin goes on over both keys: a stays in rotation.
        assertThat(chat("chat").status()).isEqualTo(200);
        assertThat(chat("chat").status()).isEqualTo(status);
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_B, KEY_A);
        assertThat(key("a").get("status").asText()).isEqualTo("active");
        awaitCounted(3);
        assertThat(sample(scrape(), "keymux_key_state{key_id=\"a\",state=\"disabled\"}")).isEqualTo(0.0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void aRefusedKeyFailsOverAndTakesTheStateItsAnswerMeans(String name, Reply refusal, String state) {
        keyARefuses(refusal);
        startKeymux(yaml(TWO_KEYS));

        ChatCompletion completion = sdk().chat().completions().create(params("gpt-4o"));

        assertThat(completion.choices().get(0).message().content()).hasValue("hello from stub");
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_B);
        JsonNode a = key("a");
        assertThat(a.get("status").asText()).as(name).isEqualTo(state);
        // Taken out of rotation, whatever the reason: the next requests go to b only.
        sdk().chat().completions().create(params("gpt-4o"));
        sdk().chat().completions().create(params("gpt-4o"));
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_B, KEY_B, KEY_B);
        awaitCounted(3); // client requests: the failed-over one counts once
        assertThat(sample(scrape(), "keymux_key_state{key_id=\"a\",state=\"" + state + "\"}")).isEqualTo(1.0);
    }

    @Test
    void postEnableBringsADisabledKeyBackAndAnswersItAsAdminKeysShowsIt() {
        stub.defaultReply(r -> ("Bearer " + KEY_A).equals(r.headers().get("Authorization")) && stub.recorded().size() <= 1
                ? Reply.json(401, OPENAI_401) : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        startKeymux(yaml(TWO_KEYS));
        sdk().chat().completions().create(params("gpt-4o"));
        assertThat(key("a").get("status").asText()).isEqualTo("disabled");
        // The next probe is shown as the key's cooldown_until (health.disabled_probe, 10m by default).
        assertThat(Instant.parse(key("a").get("cooldown_until").asText()))
                .isAfter(Instant.now().plusSeconds(9 * 60));

        assertThat(adminPost("/admin/keys/a/enable", null).status()).isEqualTo(401);
        assertThat(adminPost("/admin/keys/a/enable", "wrong").status()).isEqualTo(401);
        assertThat(key("a").get("status").asText()).isEqualTo("disabled");
        Answer enabled = adminPost("/admin/keys/a/enable", ADMIN_TOKEN);

        assertThat(enabled.status()).as(enabled.body()).isEqualTo(200);
        JsonNode body = parse(enabled.body());
        assertThat(body.get("key_id").asText()).isEqualTo("a");
        assertThat(body.get("status").asText()).isEqualTo("active");
        assertThat(body.get("cooldown_until").isNull()).isTrue();
        assertThat(body).isEqualTo(key("a"));
        // Back in rotation: round robin reaches a again.
        sdk().chat().completions().create(params("gpt-4o"));
        sdk().chat().completions().create(params("gpt-4o"));
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_B, KEY_A, KEY_B);

        Answer unknown = adminPost("/admin/keys/nope/enable", ADMIN_TOKEN);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(parse(unknown.body()).get("error").get("code").asText()).isEqualTo("unknown_key");
    }

    @Test
    void aQuotaExhaustedKeyShowsItsNextProbeAndIsToldToTopUp() {
        keyARefuses(Reply.json(429, OPENAI_QUOTA));
        startKeymux(yaml("health: { quota_probe: 7m }\n" + TWO_KEYS));
        long before = System.currentTimeMillis();

        sdk().chat().completions().create(params("gpt-4o"));

        JsonNode a = key("a");
        assertThat(a.get("status").asText()).isEqualTo("quota_exhausted");
        long probeAt = Instant.parse(a.get("cooldown_until").asText()).toEpochMilli();
        assertThat(probeAt).isBetween(before + 7 * 60_000 - 1_000, System.currentTimeMillis() + 7 * 60_000 + 1_000);
        JsonNode recommendations = adminJson("/admin/recommendations").get("recommendations");
        assertThat(recommendations).anySatisfy(r -> {
            assertThat(r.get("type").asText()).isEqualTo("quota_exhausted");
            assertThat(r.get("key_id").asText()).isEqualTo("a");
            assertThat(r.get("message").asText()).contains("top up");
        });
        // No secret in what the admin API says about it.
        assertThat(adminJson("/admin/keys").toString() + recommendations).doesNotContain(KEY_A, KEY_B);
    }

    @Test
    void anOverloadedUpstreamIsBackedOffForAllItsKeysAndTheRequestGoesToAnotherUpstream() {
        keyARefuses(Reply.json(529, ANTHROPIC_529));
        startKeymux(yaml(List.of("alt"), """
                admin: { token: "${ADMIN_TOKEN}" }
                health: { overload_backoff: 60s }
                clients: [{ name: app, key: "${CLIENT_KEY}" }]
                default_task: chat
                tasks: [{ name: chat, max_wait: 0s }]
                api_keys:
                  - { key_id: a1, api_key: "${KEY_A}", task_types: [chat], upstream: stub }
                  - { key_id: a2, api_key: "${KEY_B}", task_types: [chat], upstream: stub }
                  - { key_id: o1, api_key: "${KEY_C}", task_types: [chat], upstream: alt }
                """));

        sdk().chat().completions().create(params("claude-sonnet-4"));
        // a2 shares a1's upstream, so it is not tried: the request fails over to the other upstream.
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_C);
        sdk().chat().completions().create(params("claude-sonnet-4"));
        sdk().chat().completions().create(params("claude-sonnet-4"));
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_C, KEY_C, KEY_C);
        // The keys themselves are fine: it was the provider.
        assertThat(key("a1").get("status").asText()).isEqualTo("active");
        assertThat(key("a2").get("status").asText()).isEqualTo("active");
    }

    @Test
    void withNoOtherUpstreamTheClientGetsUpstreamOverloadedWithRetryAfter() {
        stub.defaultReply(r -> Reply.json(503, OPENAI_503_OVERLOADED).withHeader("retry-after", "9"));
        startKeymux(yaml(TWO_KEYS));

        Answer first = chat("chat");

        assertThat(first.status()).isEqualTo(503);
        assertThat(first.headers().get("Retry-After")).isEqualTo("9");
        JsonNode error = parse(first.body()).get("error");
        assertThat(error.get("code").asText()).isEqualTo("upstream_overloaded");
        assertThat(error.get("message").asText()).contains("overloaded").doesNotContain(KEY_A, KEY_B);
        // b is on the same upstream, so it was not tried.
        assertThat(keysSeen()).containsExactly(KEY_A);
        Answer second = chat("chat");
        assertThat(second.status()).isEqualTo(503);
        assertThat(Integer.parseInt(second.headers().get("Retry-After"))).isBetween(1, 9);
        assertThat(parse(second.body()).get("error").get("code").asText()).isEqualTo("upstream_overloaded");
        assertThat(keysSeen()).as("no request reaches the backing-off upstream").containsExactly(KEY_A);

        assertThatThrownBy(() -> sdk().chat().completions().create(params("gpt-4o")))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> assertThat(e.statusCode()).isEqualTo(503));
    }

    @Test
    void aServiceUnavailableThatIsNotAnOverloadPassesThroughWholeWhenNotRetried() {
        String page = "<html>" + "x".repeat(20_000) + "</html>";
        stub.defaultReply(r -> new Reply(503, Map.of("content-type", "text/html"),
                Flux.just(page.substring(0, 5000), page.substring(5000, 12_000), page.substring(12_000))));
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                clients: [{ name: app, key: "${CLIENT_KEY}" }]
                default_task: chat
                tasks: [{ name: chat, max_wait: 0s, retry_on: [500] }]
                api_keys:
                  - { key_id: a, api_key: "${KEY_A}", task_types: [chat] }
                """));

        Answer answer = chat("chat");

        assertThat(answer.status()).isEqualTo(503);
        assertThat(answer.body()).isEqualTo(page);
    }

    @Test
    void aRateLimitNamingTheModelCoolsThatModelsBucketOnly() {
        stub.defaultReply(r -> ("Bearer " + KEY_A).equals(r.headers().get("Authorization"))
                        && r.bodyText().contains("\"model\":\"gpt-4o\"")
                ? Reply.json(429, OPENAI_RATE_LIMIT_GPT4O).withHeader("x-ratelimit-reset-tokens", "20s")
                : Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                clients: [{ name: app, key: "${CLIENT_KEY}" }]
                default_task: chat
                tasks: [{ name: chat, max_wait: 0s }]
                api_keys:
                  - key_id: a
                    api_key: "${KEY_A}"
                    task_types: [chat]
                    max_rpm: 100
                    models:
                      "gpt-4o": { max_rpm: 50, max_tpm: 30000 }
                      "gpt-4o-mini*": { max_rpm: 500 }
                  - { key_id: b, api_key: "${KEY_B}", task_types: [chat] }
                """));
        long before = System.currentTimeMillis();

        sdk().chat().completions().create(params("gpt-4o"));
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_B);

        JsonNode a = key("a");
        assertThat(a.get("status").asText()).isEqualTo("active");
        JsonNode gpt4o = a.get("models").get("gpt-4o");
        assertThat(gpt4o.get("status").asText()).isEqualTo("cooling_down");
        assertThat(gpt4o.get("limits").get("rpm").asLong()).isEqualTo(50);
        assertThat(gpt4o.get("limits").get("tpm").asLong()).isEqualTo(30000);
        assertThat(gpt4o.get("usage").get("rpm").asLong()).isEqualTo(1);
        long until = Instant.parse(gpt4o.get("cooldown_until").asText()).toEpochMilli();
        assertThat(until).isBetween(before + 19_000, System.currentTimeMillis() + 21_000);
        JsonNode mini = a.get("models").get("gpt-4o-mini*");
        assertThat(mini.get("status").asText()).isEqualTo("active");
        assertThat(mini.get("cooldown_until").isNull()).isTrue();
        assertThat(mini.get("limits").get("tpm").isNull()).isTrue();

        // Another model of the same key is still served by it; gpt-4o goes to b meanwhile.
        sdk().chat().completions().create(params("gpt-4o-mini"));
        sdk().chat().completions().create(params("gpt-4o"));
        sdk().chat().completions().create(params("gpt-4o"));
        assertThat(keysSeen()).containsExactly(KEY_A, KEY_B, KEY_A, KEY_B, KEY_B);
        assertThat(key("a").get("models").get("gpt-4o-mini*").get("usage").get("rpm").asLong()).isEqualTo(1);
    }
}
