package io.keymux.core.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.core.health.AnswerMeaning.Kind;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The classifier against the error bodies and headers the providers really send (copied from
 * their answers and documentation, secrets replaced).
 */
class AnswerClassifierTest {
    private static final long NOW = 1_800_000_000_000L;

    static final String OPENAI_RATE_LIMIT = """
            {
                "error": {
                    "message": "Rate limit reached for gpt-4o in organization org-Zq3 on tokens per min (TPM): \
            Limit 30000, Used 29547, Requested 1068. Please try again in 1.23s. Visit \
            https://platform.openai.com/account/rate-limits to learn more.",
                    "type": "tokens",
                    "param": null,
                    "code": "rate_limit_exceeded"
                }
            }
            """;
    static final String OPENAI_REQUESTS_LIMIT = """
            {"error":{"message":"Rate limit reached for requests","type":"requests","param":null,\
            "code":"rate_limit_exceeded"}}""";
    static final String OPENAI_QUOTA = """
            {
                "error": {
                    "message": "You exceeded your current quota, please check your plan and billing details. \
            For more information on this error, read the docs: \
            https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "type": "insufficient_quota",
                    "param": null,
                    "code": "insufficient_quota"
                }
            }
            """;
    static final String NVIDIA_402 = """
            {"type":"urn:inference-service:problem-details:payment-required","title":"Payment Required",\
            "status":402,"detail":"Account 'f3c1e2': Cloud credits expired - Please contact NVIDIA representatives",\
            "instance":"/v2/nvcf/pexec/functions/0ae6"}""";
    static final String OPENROUTER_402 = """
            {"error":{"message":"This request requires more credits, or fewer max_tokens. You requested up to \
            4096 tokens, but can only afford 1209.","code":402}}""";
    static final String ANTHROPIC_OVERLOADED = """
            {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""";
    static final String ANTHROPIC_RATE_LIMIT = """
            {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your \
            organization's rate limit of 50,000 input tokens per minute. For details, refer to: \
            https://docs.claude.com/en/api/rate-limits."}}""";
    static final String OPENAI_503_OVERLOADED = """
            {"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error",\
            "param":null,"code":null}}""";
    static final String GEMINI_503_OVERLOADED = """
            {"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}""";
    static final String PLAIN_503 = "<html><body><h1>503 Service Temporarily Unavailable</h1>nginx</body></html>";
    static final String OPENAI_401 = """
            {"error":{"message":"Incorrect API key provided: sk-abc***wxyz. You can find your API key at \
            https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,\
            "code":"invalid_api_key"}}""";
    static final String OPENAI_403 = """
            {"error":{"message":"Project proj_abc does not have access to model gpt-4o","type":"invalid_request_error",\
            "param":null,"code":"model_not_found"}}""";
    static final String OPENAI_DEACTIVATED = """
            {"error":{"message":"This key is associated with a deactivated account. If you feel this is an error, \
            contact us through our help center at help.openai.com.","type":"invalid_request_error",\
            "code":"account_deactivated","param":null}}""";
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
    static final String OPENAI_NO_SUCH_ORG = """
            {"error":{"message":"No such organization: org-bogus.","type":"invalid_request_error","param":null,\
            "code":"invalid_organization"}}""";
    static final String OPENAI_NO_KEY = """
            {"error":{"message":"You didn't provide an API key. You need to provide your API key in an \
            Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",\
            "type":"invalid_request_error","param":null,"code":null}}""";
    static final String ANTHROPIC_401 = """
            {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},\
            "request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}""";
    static final String ANTHROPIC_403 = """
            {"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission \
            to use the specified resource."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fz"}""";
    static final String NVIDIA_403 = """
            {"status":403,"title":"Forbidden","detail":"Authorization failed"}""";
    static final String NVIDIA_401 = """
            {"status":401,"title":"Unauthorized","detail":"Authentication failed"}""";
    static final String AZURE_401 = """
            {"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. \
            Make sure to provide a valid key for an active subscription and use a correct regional API endpoint \
            for your resource."}}""";
    /** A model name chosen by the client, echoed in the message, says nothing about the key. */
    static final String ECHOED_MODEL_403 = """
            {"error":{"message":"The model `invalid_api_key` does not exist or you do not have access to it.",\
            "type":"invalid_request_error","param":null,"code":"model_not_found"}}""";
    static final String OPENAI_400 = """
            {"error":{"message":"Unrecognized request argument supplied: foo","type":"invalid_request_error",\
            "param":null,"code":null}}""";

    static Stream<Arguments> providerAnswers() {
        return Stream.of(
                row("OpenAI 200", 200, "{\"id\":\"chatcmpl-1\"}", Map.of(), Kind.ANSWER, null, false),
                row("OpenAI 429 rate_limit_exceeded (model named, reset headers)", 429, OPENAI_RATE_LIMIT,
                        Map.of("x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "1.23s",
                                "x-ratelimit-reset-requests", "120ms"),
                        Kind.RATE_LIMITED, Duration.ofMillis(1230), true),
                row("OpenAI 429 rate_limit_exceeded, only the message says when", 429, OPENAI_RATE_LIMIT, Map.of(),
                        Kind.RATE_LIMITED, Duration.ofMillis(1230), true),
                row("OpenAI 429 on requests (no model named)", 429, OPENAI_REQUESTS_LIMIT,
                        Map.of("retry-after", "20"), Kind.RATE_LIMITED, Duration.ofSeconds(20), false),
                row("OpenAI 429 insufficient_quota", 429, OPENAI_QUOTA, Map.of(), Kind.QUOTA_EXHAUSTED, null, false),
                row("NVIDIA 402 Payment Required", 402, NVIDIA_402, Map.of(), Kind.QUOTA_EXHAUSTED, null, false),
                row("OpenRouter 402 credits", 402, OPENROUTER_402, Map.of(), Kind.QUOTA_EXHAUSTED, null, false),
                row("Anthropic 429 rate_limit_error", 429, ANTHROPIC_RATE_LIMIT,
                        Map.of("retry-after", "7", "anthropic-ratelimit-input-tokens-remaining", "0"),
                        Kind.RATE_LIMITED, Duration.ofSeconds(7), false),
                row("Anthropic 529 overloaded_error", 529, ANTHROPIC_OVERLOADED, Map.of(), Kind.OVERLOADED, null, false),
                row("Anthropic 529 with Retry-After", 529, ANTHROPIC_OVERLOADED, Map.of("retry-after", "3"),
                        Kind.OVERLOADED, Duration.ofSeconds(3), false),
                row("OpenAI 503 engine overloaded", 503, OPENAI_503_OVERLOADED, Map.of(), Kind.OVERLOADED, null, false),
                row("Gemini-style 503 model overloaded", 503, GEMINI_503_OVERLOADED, Map.of(), Kind.OVERLOADED, null,
                        false),
                row("Anthropic overloaded_error as a 503", 503, ANTHROPIC_OVERLOADED, Map.of(), Kind.OVERLOADED, null,
                        false),
                row("a proxy's 503 page", 503, PLAIN_503, Map.of(), Kind.SERVER_ERROR, null, false),
                row("empty 503", 503, "", Map.of(), Kind.SERVER_ERROR, null, false),
                row("502", 502, "bad gateway", Map.of(), Kind.SERVER_ERROR, null, false),
                row("500 naming overload is still a server error", 500, OPENAI_503_OVERLOADED, Map.of(),
                        Kind.SERVER_ERROR, null, false),
                row("OpenAI 401 invalid_api_key", 401, OPENAI_401, Map.of(), Kind.UNAUTHORIZED, null, false),
                row("OpenAI 401 account_deactivated", 401, OPENAI_DEACTIVATED, Map.of(), Kind.UNAUTHORIZED, null,
                        false),
                row("OpenAI 401 without an API key", 401, OPENAI_NO_KEY, Map.of(), Kind.UNAUTHORIZED, null, false),
                row("OpenAI 401 restricted key missing scopes passes through", 401, OPENAI_RESTRICTED_KEY, Map.of(),
                        Kind.ANSWER, null, false),
                row("OpenAI 401 for the client's own OpenAI-Organization passes through", 401, OPENAI_NO_SUCH_ORG,
                        Map.of(), Kind.ANSWER, null, false),
                row("OpenAI 403 no access to the model passes through", 403, OPENAI_403, Map.of(), Kind.ANSWER, null,
                        false),
                row("403 echoing a client's model name passes through", 403, ECHOED_MODEL_403, Map.of(), Kind.ANSWER,
                        null, false),
                row("Anthropic 401 authentication_error", 401, ANTHROPIC_401, Map.of(), Kind.UNAUTHORIZED, null,
                        false),
                row("Anthropic 403 permission_error passes through", 403, ANTHROPIC_403, Map.of(), Kind.ANSWER, null,
                        false),
                row("NVIDIA 401 Authentication failed", 401, NVIDIA_401, Map.of(), Kind.UNAUTHORIZED, null, false),
                row("NVIDIA 403 for an unentitled model passes through", 403, NVIDIA_403, Map.of(), Kind.ANSWER, null,
                        false),
                row("Azure 401 invalid subscription key", 401, AZURE_401, Map.of(), Kind.UNAUTHORIZED, null, false),
                row("empty 401", 401, "", Map.of(), Kind.UNAUTHORIZED, null, false),
                row("empty 403 passes through", 403, "", Map.of(), Kind.ANSWER, null, false),
                row("OpenAI 400 passes through", 400, OPENAI_400, Map.of(), Kind.ANSWER, null, false),
                row("404 passes through", 404, "{}", Map.of(), Kind.ANSWER, null, false),
                row("429 with an empty body is a rate limit", 429, "", Map.of(), Kind.RATE_LIMITED, null, false),
                row("429 with a non-JSON body is a rate limit", 429, "Too Many Requests", Map.of("retry-after-ms", "250"),
                        Kind.RATE_LIMITED, Duration.ofMillis(250), false));
    }

    private static Arguments row(String name, int status, String body, Map<String, String> headers, Kind kind,
            @Nullable Duration retryAfter, boolean perModel) {
        return Arguments.of(name, status, body, headers, kind, retryAfter, perModel);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("providerAnswers")
    void classifiesWhatTheProviderMeans(String name, int status, String body, Map<String, String> headers, Kind kind,
            @Nullable Duration retryAfter, boolean perModel) {
        AnswerMeaning meaning = classify(status, body, headers, "gpt-4o");
        assertThat(meaning.kind()).as(name).isEqualTo(kind);
        assertThat(meaning.status()).isEqualTo(status);
        assertThat(meaning.retryAfter()).as(name + " retry after").isEqualTo(retryAfter);
        assertThat(meaning.perModel()).as(name + " per model").isEqualTo(perModel);
    }

    @Test
    void aModelIsNamedOnlyAsAWholeWord() {
        String mini = OPENAI_RATE_LIMIT.replace("gpt-4o in", "gpt-4o-mini in");
        assertThat(classify(429, mini, Map.of(), "gpt-4o").perModel()).isFalse();
        assertThat(classify(429, mini, Map.of(), "gpt-4o-mini").perModel()).isTrue();
        assertThat(classify(429, OPENAI_RATE_LIMIT, Map.of(), null).perModel()).isFalse();
    }

    @Test
    void looksAtNoMoreThanTheBoundedHead() {
        String padded = "{\"pad\":\"" + "x".repeat(AnswerClassifier.BODY_LOOK_BYTES) + "\"," + OPENAI_QUOTA.substring(1);
        assertThat(classify(429, padded, Map.of(), null).kind()).isEqualTo(Kind.RATE_LIMITED);
        byte[] bytes = OPENAI_QUOTA.getBytes(StandardCharsets.UTF_8);
        // Only the valid length counts: a buffer's unused tail is not read.
        assertThat(AnswerClassifier.classify(429, h -> null, bytes, 10, null, NOW).kind()).isEqualTo(Kind.RATE_LIMITED);
        assertThat(AnswerClassifier.classify(429, h -> null, bytes, bytes.length, null, NOW).kind())
                .isEqualTo(Kind.QUOTA_EXHAUSTED);
    }

    @Test
    void onlyAuthErrorsRateLimitsAndServiceUnavailableNeedTheBody() {
        assertThat(AnswerClassifier.wantsBody(401)).isTrue();
        assertThat(AnswerClassifier.wantsBody(403)).isTrue();
        assertThat(AnswerClassifier.wantsBody(429)).isTrue();
        assertThat(AnswerClassifier.wantsBody(503)).isTrue();
        assertThat(AnswerClassifier.wantsBody(200)).isFalse();
        assertThat(AnswerClassifier.wantsBody(402)).isFalse();
        assertThat(AnswerClassifier.wantsBody(529)).isFalse();
        assertThat(AnswerClassifier.wantsBody(500)).isFalse();
    }

    @Test
    void malformedBytesDoNotBreakIt() {
        byte[] junk = {(byte) 0xff, (byte) 0xfe, '"', 'c', 'o', 'd', 'e', '"', ':', '"', (byte) 0xc3};
        assertThat(AnswerClassifier.classify(429, h -> null, junk, junk.length, "m", NOW).kind())
                .isEqualTo(Kind.RATE_LIMITED);
        String unterminated = "{\"error\":{\"code\":\"insufficient_quota";
        assertThat(classify(429, unterminated, Map.of(), null).kind()).isEqualTo(Kind.RATE_LIMITED);
    }

    private static AnswerMeaning classify(int status, String body, Map<String, String> headers, @Nullable String model) {
        Map<String, String> lower = new HashMap<>();
        headers.forEach((k, v) -> lower.put(k.toLowerCase(java.util.Locale.ROOT), v));
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return AnswerClassifier.classify(status, lower::get, bytes, bytes.length, model, NOW);
    }
}
