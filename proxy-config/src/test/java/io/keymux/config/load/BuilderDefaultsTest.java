package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.TaskConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The defaults live in the builders: a file that sets nothing loads into exactly what the builders
 * make when told nothing, section by section.
 */
class BuilderDefaultsTest {

    @TempDir
    Path dir;

    @Test
    void aFileThatSetsNothingLoadsIntoTheBuildersDefaults() {
        LoadResult loaded = new ConfigFixture(dir).yaml("""
                tasks:
                  - name: chat
                api_keys:
                  - key_id: k1
                    api_key: sk-test
                    task_types: [chat]
                clients:
                  - name: app
                    key: ck-test
                """);
        KeymuxConfig config = loaded.config();
        assertThat(loaded.problems()).isEmpty();
        KeymuxConfig expected = KeymuxConfig.builder()
                .upstreams(UpstreamPresets.presets())
                .task(TaskConfig.builder("chat").build())
                .apiKey(ApiKeyConfig.builder("k1", Secret.of("sk-test")).taskTypes("chat").build())
                .client(ClientConfig.builder("app").key(Secret.of("ck-test")).build())
                .build();
        assertThat(config.server()).isEqualTo(expected.server());
        assertThat(config.health()).isEqualTo(expected.health());
        assertThat(config.admin()).isEqualTo(expected.admin());
        assertThat(config.limits()).isEqualTo(expected.limits());
        assertThat(config.cache()).isEqualTo(expected.cache());
        assertThat(config.upstreams()).isEqualTo(expected.upstreams());
        assertThat(config.defaultUpstream()).isEqualTo(expected.defaultUpstream());
        assertThat(config.defaultTask()).isEqualTo(expected.defaultTask());
        assertThat(config.tasks()).isEqualTo(expected.tasks());
        assertThat(config.apiKeys()).isEqualTo(expected.apiKeys());
        assertThat(config.clients()).isEqualTo(expected.clients());
    }

    @Test
    void aSeedTaskIsTheTaskBuildersDefault() {
        KeymuxConfig config = new ConfigFixture(dir).yaml("""
                api_keys:
                  - key_id: k1
                    api_key: sk-test
                    task_types: [summarise]
                """).config();
        assertThat(config.tasks()).containsExactly(TaskConfig.builder("summarise").build());
    }

    @Test
    void toBuilderChangesOnlyWhatItIsTold() {
        ApiKeyConfig key = ApiKeyConfig.builder("k1", Secret.of("sk-test")).taskTypes("chat").maxRpm(10L)
                .dailyBudgetUsd(5.0).budgetWarnAt(0.8).build();
        ApiKeyConfig changed = key.toBuilder().maxRpm(20L).build();
        assertThat(changed).isEqualTo(ApiKeyConfig.builder("k1", Secret.of("sk-test")).taskTypes("chat").maxRpm(20L)
                .dailyBudgetUsd(5.0).budgetWarnAt(0.8).build());
        assertThat(key.maxRpm()).isEqualTo(10L);
    }
}
