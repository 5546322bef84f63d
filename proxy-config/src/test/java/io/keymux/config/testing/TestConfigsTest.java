package io.keymux.config.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The presets and replacement rules the other modules' tests rely on. */
class TestConfigsTest {
    private static final URI STUB = URI.create("http://127.0.0.1:1");

    @Test
    void theProxyPresetIsOneUpstreamTaskKeyAndClientOnEphemeralLoopbackPorts() {
        KeymuxConfig c = TestConfigs.upstream(STUB).build();
        assertThat(c.server().port()).isZero();
        assertThat(c.server().adminPort()).isZero();
        assertThat(c.server().bind()).isEqualTo("127.0.0.1");
        assertThat(c.upstreams()).containsOnlyKeys("stub");
        assertThat(c.upstream("stub").orElseThrow().baseUrl()).isEqualTo(STUB);
        assertThat(c.defaultUpstream()).isEqualTo("stub");
        assertThat(c.tasks()).extracting(TaskConfig::name).containsExactly("chat");
        assertThat(c.tasks().get(0).upstream()).isEqualTo("stub");
        assertThat(c.defaultTask()).isEqualTo("chat");
        assertThat(c.apiKeys()).singleElement().satisfies(k -> {
            assertThat(k.keyId()).isEqualTo("k1");
            assertThat(k.apiKey().reveal()).isEqualTo(TestConfigs.POOL_KEY_1);
            assertThat(k.taskTypes()).containsExactly("*");
        });
        assertThat(c.clients()).singleElement().satisfies(client -> {
            assertThat(client.name()).isEqualTo("app");
            assertThat(client.key().reveal()).isEqualTo(TestConfigs.CLIENT_KEY);
        });
    }

    @Test
    void theFirstAddedTaskKeyOrClientReplacesThePresetOnesAndTheDefaultTask() {
        KeymuxConfig c = TestConfigs.upstream(STUB).task("a").task("b")
                .key("k2", TestConfigs.POOL_KEY_2, "a")
                .client(ClientConfig.builder("other").key(Secret.of("ck-other")))
                .build();
        assertThat(c.tasks()).extracting(TaskConfig::name).containsExactly("a", "b");
        assertThat(c.defaultTask()).isNull();
        assertThat(c.apiKeys()).extracting(ApiKeyConfig::keyId).containsExactly("k2");
        assertThat(c.clients()).extracting(ClientConfig::name).containsExactly("other");

        assertThat(TestConfigs.upstream(STUB).defaultTask("b").task("a").task("b").build().defaultTask()).isEqualTo("b");
        assertThat(TestConfigs.upstream(STUB).noClients().build().clients()).isEmpty();
    }

    @Test
    void aTaskAddedAgainByNameKeepsItsSettingsAndStartsFromTheTopLevelHealth() {
        KeymuxConfig c = TestConfigs.upstream(STUB)
                .task("chat", t -> t.strategy(Strategy.PRIORITY))
                .task("chat", t -> t.maxWait(Duration.ZERO))
                .health(h -> h.failureThreshold(7))
                .build();
        TaskConfig chat = c.task("chat").orElseThrow();
        assertThat(c.tasks()).hasSize(1);
        assertThat(chat.strategy()).isEqualTo(Strategy.PRIORITY);
        assertThat(chat.maxWait()).isZero();
        assertThat(chat.health().failureThreshold()).isEqualTo(7);
        assertThat(c.health().failureThreshold()).isEqualTo(7);
    }

    @Test
    void emptyPresetsNothing() {
        KeymuxConfig c = TestConfigs.empty().task(TaskConfig.builder("t")).key(ApiKeyConfig.builder("a", Secret.of("s")))
                .build();
        assertThat(c).isEqualTo(KeymuxConfig.builder().task(TaskConfig.builder("t").build())
                .apiKey(ApiKeyConfig.builder("a", Secret.of("s")).build()).build());
    }

    @Test
    void yamlLoadsThroughTheLoaderAndFailsOnAProblem(@TempDir Path dir) {
        KeymuxConfig c = TestConfigs.yaml(dir, """
                upstreams: { stub: { base_url: "http://127.0.0.1:1", auth: bearer } }
                default_upstream: stub
                tasks: [{ name: chat }]
                api_keys: [{ key_id: k1, api_key: "${KEY}", task_types: [chat] }]
                """, Map.of("KEY", "sk-1"));
        assertThat(c.apiKeys().get(0).apiKey().reveal()).isEqualTo("sk-1");
        assertThat(TestConfigs.loadResult(dir, "tasks: 5\n", Map.of()).problems()).isNotEmpty();
        assertThatThrownBy(() -> TestConfigs.yaml(dir, "tasks: 5\n", Map.of()))
                .isInstanceOf(AssertionError.class).hasMessageContaining("config problems");
    }
}
