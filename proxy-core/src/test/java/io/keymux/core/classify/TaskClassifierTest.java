package io.keymux.core.classify;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.MatchRule;
import io.keymux.config.model.TaskConfig;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class TaskClassifierTest {

    private static TaskConfig task(String name, @Nullable MatchRule match) {
        return TaskConfig.builder(name).match(match).build();
    }

    private static KeymuxConfig config(@Nullable String defaultTask) {
        return KeymuxConfig.builder().defaultTask(defaultTask).tasks(
                List.of(
                        task("diagnosis", new MatchRule("/v1/chat/*", "gpt-4*", Map.of("X-App", "dentamind"))),
                        task("embed", new MatchRule("/v1/embeddings", null, Map.of())),
                        task("vision", new MatchRule(null, "*-vision", Map.of())),
                        task("general", null)))
                .build();
    }

    private static Classification classify(KeymuxConfig config, @Nullable String header, String path,
            @Nullable String model, Map<String, String> headers) {
        return TaskClassifier.of(config).classify(new RequestFacts(header, path, model, name -> {
            for (Map.Entry<String, String> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue();
                }
            }
            return null;
        }));
    }

    @Test
    void headerWinsAndPrefixIsStillStripped() {
        assertThat(classify(config(null), "embed", "/tasks/vision/v1/chat/completions", null, Map.of()))
                .isEqualTo(new Classification.Classified("embed", "/v1/chat/completions", "header"));
    }

    @Test
    void unknownHeaderNamesKnownTasks() {
        assertThat(classify(config(null), "nope", "/v1/x", null, Map.of()))
                .isEqualTo(new Classification.UnknownTask("nope", List.of("diagnosis", "embed", "vision", "general")));
    }

    @Test
    void pathPrefixSelectsAndIsStripped() {
        assertThat(classify(config(null), null, "/tasks/general/v1/models", null, Map.of()))
                .isEqualTo(new Classification.Classified("general", "/v1/models", "path"));
        assertThat(classify(config(null), null, "/tasks/general", null, Map.of()))
                .isEqualTo(new Classification.Classified("general", "/", "path"));
        assertThat(classify(config(null), null, "/tasks/zzz/v1", null, Map.of()))
                .isInstanceOf(Classification.UnknownTask.class);
    }

    @Test
    void traversalAndEncodedSeparatorsAreBadRequests() {
        for (String path : List.of("/tasks/../v1", "/tasks/%2e%2e/v1", "/tasks/%2E/v1", "/tasks/a%2fb/v1",
                "/tasks/a%5Cb/v1", "/tasks//v1", "/v1/../admin", "/tasks/general/v1/%2e%2e/x", "/tasks/%zz/v1")) {
            assertThat(classify(config("general"), null, path, null, Map.of()))
                    .as(path).isInstanceOf(Classification.BadRequest.class);
        }
    }

    @Test
    void matchRulesNeedEveryConditionAndGoInOrder() {
        assertThat(classify(config(null), null, "/v1/chat/completions", "gpt-4o", Map.of("x-app", "dentamind")))
                .isEqualTo(new Classification.Classified("diagnosis", "/v1/chat/completions", "match"));
        // Header value differs: diagnosis fails, no later rule matches.
        assertThat(classify(config(null), null, "/v1/chat/completions", "gpt-4o", Map.of("X-App", "Dentamind")))
                .isInstanceOf(Classification.NoTaskMatched.class);
        assertThat(classify(config(null), null, "/v1/embeddings", null, Map.of()))
                .isEqualTo(new Classification.Classified("embed", "/v1/embeddings", "match"));
        assertThat(classify(config(null), null, "/v1/chat/completions", "llama-vision", Map.of()))
                .isEqualTo(new Classification.Classified("vision", "/v1/chat/completions", "match"));
    }

    @Test
    void defaultTaskElseNoTaskMatched() {
        assertThat(classify(config("general"), null, "/v1/other", null, Map.of()))
                .isEqualTo(new Classification.Classified("general", "/v1/other", "default"));
        assertThat(classify(config(null), null, "/v1/other", null, Map.of()))
                .isInstanceOf(Classification.NoTaskMatched.class);
    }
}
