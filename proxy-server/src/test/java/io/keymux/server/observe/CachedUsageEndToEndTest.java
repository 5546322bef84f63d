package io.keymux.server.observe;

import static io.keymux.server.testing.ProviderUsagePayloads.CACHED;
import static io.keymux.server.testing.ProviderUsagePayloads.COMPLETION;
import static io.keymux.server.testing.ProviderUsagePayloads.PROMPT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ResponseUsage;
import io.keymux.server.testing.ProviderUsagePayloads;
import io.keymux.server.testing.UpstreamStub;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import java.nio.charset.StandardCharsets;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;

/**
 * Usage in the Responses API's and Anthropic's shapes, streamed and whole, through keymux end to
 * end: prompt tokens count every input token, cached ones are counted apart
 * ({@code kind="cached_prompt"}) and priced at {@code cost_per_cached_input_token}, in the metrics,
 * the audit line, the key's spend and the admin views.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CachedUsageEndToEndTest extends ObserveTestBase {

    private static final double INPUT = 0.0000025;
    private static final double CACHED_INPUT = 0.00000125;
    private static final double OUTPUT = 0.00001;
    /** One answer: 86 uncached input tokens, 1920 cached, 300 output. */
    private static final double ONE_ANSWER = (PROMPT - CACHED) * INPUT + CACHED * CACHED_INPUT + COMPLETION * OUTPUT;

    private void start(String task) {
        startKeymux(yaml("""
                admin:
                  token: ${ADMIN_TOKEN}
                tasks:
                  - name: %s
                api_keys:
                  - key_id: k1
                    api_key: ${KEY_A}
                    task_types: [%s]
                    cost_per_input_token: 0.0000025
                    cost_per_cached_input_token: 0.00000125
                    cost_per_output_token: 0.00001
                    daily_budget_usd: 5
                clients:
                  - name: app
                    key: ${CLIENT_KEY}
                """.formatted(task, task)));
    }

    private OpenAIClient sdk() {
        return OpenAIOkHttpClient.builder()
                .baseUrl(proxyUrl() + "/tasks/resp/v1")
                .apiKey(CLIENT)
                .maxRetries(0)
                .build();
    }

    @Test
    void responsesApiThroughTheOpenAiSdkStreamedAndWhole() {
        List<String> lines;
        try (AuditCapture audit = new AuditCapture()) {
            start("resp");
            stub.enqueue(UpstreamStub.Reply.sse(Flux.fromIterable(ProviderUsagePayloads.responsesStream())));
            stub.enqueue(UpstreamStub.Reply.json(200, ProviderUsagePayloads.responsesBody()));
            ResponseCreateParams params = ResponseCreateParams.builder().model("gpt-4.1")
                    .input("Which treatment does tooth 36 need?").build();

            List<String> types = new ArrayList<>();
            ResponseUsage streamed = null;
            try (StreamResponse<ResponseStreamEvent> stream = sdk().responses().createStreaming(params)) {
                for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
                    event.outputTextDelta().ifPresent(d -> types.add("delta:" + d.delta()));
                    if (event.completed().isPresent()) {
                        streamed = event.completed().get().response().usage().orElseThrow();
                    }
                }
            }
            assertThat(types).containsExactly("delta:The molar", "delta: needs a crown.");
            assertThat(streamed).isNotNull();
            assertThat(streamed.inputTokensDetails().cachedTokens()).isEqualTo(CACHED);

            Response whole = sdk().responses().create(params);
            assertThat(whole.usage().orElseThrow().inputTokens()).isEqualTo(PROMPT);
            assertThat(stub.recorded()).hasSize(2).allSatisfy(r -> assertThat(r.path()).isEqualTo("/v1/responses"));

            awaitCounted(2);
            assertAccounted("resp", 2);
            keymux.close();
            lines = audit.lines();
        }
        assertAuditLines(lines, 2);
    }

    @Test
    void anthropicMessagesOverRawHttpStreamedAndWhole() {
        List<String> lines;
        try (AuditCapture audit = new AuditCapture()) {
            start("claude");
            stub.enqueue(UpstreamStub.Reply.sse(Flux.fromIterable(ProviderUsagePayloads.anthropicStream())));
            stub.enqueue(UpstreamStub.Reply.json(200, ProviderUsagePayloads.anthropicBody()));
            String request = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":[{\"type\":\"text\","
                    + "\"text\":\"You are a dental assistant.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"Which treatment does tooth 36 need?\"}]";

            Answer streamed = anthropic(request + ",\"stream\":true}");
            assertThat(streamed.status()).isEqualTo(200);
            // Passed on byte for byte: keymux only watches the events.
            assertThat(streamed.body()).isEqualTo(String.join("", ProviderUsagePayloads.anthropicStream()));

            Answer whole = anthropic(request + "}");
            assertThat(whole.status()).isEqualTo(200);
            assertThat(parse(whole.body()).at("/usage/input_tokens").asLong()).isEqualTo(86);

            awaitCounted(2);
            assertAccounted("claude", 2);
            keymux.close();
            lines = audit.lines();
        }
        assertAuditLines(lines, 2);
    }

    /** A POST to /v1/messages as Anthropic's clients send it: the client key in x-api-key, no Authorization. */
    private Answer anthropic(String body) {
        return HttpClient.create()
                .baseUrl(proxyUrl())
                .headers(h -> h.set("x-api-key", CLIENT).set("anthropic-version", "2023-06-01")
                        .set("content-type", "application/json").set("X-Task-Type", "claude"))
                .post()
                .uri("/v1/messages")
                .send(ByteBufFlux.fromString(Mono.just(body)))
                .responseSingle((res, content) -> content.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(text -> new Answer(res.status().code(), res.responseHeaders(), text)))
                .block(TIMEOUT);
    }

    private void assertAccounted(String task, int answers) {
        String text = scrape();
        String labels = "key_id=\"k1\",kind=\"%s\",task=\"" + task + "\"}";
        assertThat(sample(text, "keymux_tokens_total{" + labels.formatted("prompt"))).isEqualTo((double) answers * PROMPT);
        assertThat(sample(text, "keymux_tokens_total{" + labels.formatted("cached_prompt")))
                .isEqualTo((double) answers * CACHED);
        assertThat(sample(text, "keymux_tokens_total{" + labels.formatted("completion")))
                .isEqualTo((double) answers * COMPLETION);
        assertThat(sample(text, "keymux_cost_usd_total{client=\"app\",key_id=\"k1\",task=\"" + task + "\"}"))
                .isCloseTo(answers * ONE_ANSWER, within(1e-9));

        JsonNode metrics = adminJson("/admin/metrics");
        assertThat(metrics.at("/cost_analysis/k1").asDouble()).isCloseTo(answers * ONE_ANSWER, within(1e-9));
        assertThat(metrics.at("/total_cost").asDouble()).isCloseTo(answers * ONE_ANSWER, within(1e-9));
        assertThat(metrics.at("/key_metrics/k1/total_tokens").asLong()).isEqualTo(answers * (PROMPT + COMPLETION));
        JsonNode key = adminJson("/admin/keys").get("keys").get(0);
        // The daily budget is spent at the cached price too.
        assertThat(key.get("spend_today").asDouble()).isCloseTo(answers * ONE_ANSWER, within(1e-9));
        JsonNode history = adminJson("/admin/history");
        double historyCost = 0;
        for (JsonNode step : history.at("/keys/k1/cost_usd")) {
            historyCost += step.asDouble();
        }
        assertThat(historyCost).isCloseTo(answers * ONE_ANSWER, within(1e-9));
        assertThat(text).doesNotContain(KEY_A).doesNotContain(CLIENT);
    }

    private static void assertAuditLines(List<String> lines, int answers) {
        assertThat(lines).hasSize(answers);
        for (String line : lines) {
            JsonNode audit = parse(line);
            assertThat(audit.get("status").asInt()).isEqualTo(200);
            assertThat(audit.get("prompt_tokens").asLong()).isEqualTo(PROMPT);
            assertThat(audit.get("completion_tokens").asLong()).isEqualTo(COMPLETION);
            assertThat(audit.get("cost_usd").asDouble()).isCloseTo(ONE_ANSWER, within(1e-12));
        }
        assertThat(lines.stream().collect(Collectors.joining("\n"))).doesNotContain(KEY_A).doesNotContain(CLIENT);
    }
}
