package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AffinityConfig;
import io.keymux.config.model.KeymuxConfig;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code affinity} block and {@code tasks[].prompt_affinity} (SPEC.md sections 2 and 3.9). */
class AffinityConfigTest {

    @TempDir
    Path dir;

    private ConfigFixture fx;

    @BeforeEach
    void setUp() {
        fx = new ConfigFixture(dir);
    }

    @Test
    void loadsAsWrittenWithDaysAndOnOff() {
        KeymuxConfig config = fx.yaml("""
                affinity: { ttl: 30d, max_entries: 5000 }
                tasks:
                  - { name: chat, prompt_affinity: on }
                  - { name: batch, prompt_affinity: "off" }
                  - { name: quoted, prompt_affinity: "on" }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat, batch, quoted] }
                """).configOrThrow();
        assertThat(config.affinity()).isEqualTo(new AffinityConfig(Duration.ofDays(30), 5000));
        assertThat(config.task("chat").orElseThrow().promptAffinity()).isTrue();
        assertThat(config.task("batch").orElseThrow().promptAffinity()).isFalse();
        assertThat(config.task("quoted").orElseThrow().promptAffinity()).isTrue();
    }

    @Test
    void defaultsAreThirtyDaysAMillionEntriesAndPromptAffinityOff() {
        KeymuxConfig config = fx.yaml("""
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat] }
                """).configOrThrow();
        assertThat(config.affinity().ttl()).isEqualTo(Duration.ofDays(30));
        assertThat(config.affinity().maxEntries()).isEqualTo(1_000_000L);
        assertThat(config.tasks().get(0).promptAffinity()).isFalse();
    }

    @Test
    void ordinaryDurationsWork() {
        KeymuxConfig config = fx.yaml("""
                affinity: { ttl: 12h }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat] }
                """).configOrThrow();
        assertThat(config.affinity().ttl()).isEqualTo(Duration.ofHours(12));
    }

    @Test
    void problemsNameTheirPaths() {
        assertThat(fx.problems("""
                affinity: { ttl: 0s, max_entries: 0, size: 3 }
                tasks:
                  - { name: chat, prompt_affinity: sometimes }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat] }
                """)).containsExactlyInAnyOrder(
                "affinity.size: unknown field (expected one of: ttl, max_entries)",
                "affinity.ttl: must be > 0 (got \"0s\")",
                "affinity.max_entries: must be > 0 (got 0)",
                "tasks[0].prompt_affinity: must be on or off (got \"sometimes\")");
    }
}
