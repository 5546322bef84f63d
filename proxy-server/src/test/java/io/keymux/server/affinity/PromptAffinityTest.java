package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** prompt_affinity: on (SPEC.md section 3.9): the same prompt goes to the same key, whatever the strategy. */
class PromptAffinityTest extends KeymuxTestBase {

    private KeymuxConfig threeKeys(boolean promptAffinity) {
        return config().task(TestConfigs.TASK, t -> t.promptAffinity(promptAffinity)).defaultTask(TestConfigs.TASK)
                .key("a", "sk-a", "chat").key("b", "sk-b", "chat").key("c", "sk-c", "chat").build();
    }

    private String keyFor(String body) {
        Answer answer = post("/v1/chat/completions", body);
        assertThat(answer.status()).isEqualTo(200);
        return answer.headers().get("X-Keymux-Key-Id");
    }

    private static String conversation(String system, int turns) {
        StringBuilder messages = new StringBuilder("{\"role\":\"system\",\"content\":\"" + system + "\"},"
                + "{\"role\":\"user\",\"content\":\"first question\"}");
        for (int i = 1; i < turns; i++) {
            messages.append(",{\"role\":\"assistant\",\"content\":\"answer ").append(i).append("\"}")
                    .append(",{\"role\":\"user\",\"content\":\"follow-up ").append(i).append("\"}");
        }
        return "{\"model\":\"gpt-4o\",\"messages\":[" + messages + "]}";
    }

    @Test
    void aGrowingConversationStaysOnOneKeyUnderRoundRobin() {
        startKeymux(threeKeys(true));
        Set<String> used = new HashSet<>();
        for (int turns = 1; turns <= 7; turns++) {
            used.add(keyFor(conversation("You are a dentist.", turns)));
        }
        assertThat(used).hasSize(1);
        assertThat(keymux.metrics().scrape())
                .contains("keymux_affinity_total{result=\"prompt_preferred\",task=\"chat\"} 7.0");
    }

    @Test
    void thePromptCacheKeyDecidesWhenSent() {
        startKeymux(threeKeys(true));
        Set<String> byKey = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            byKey.add(keyFor("{\"model\":\"gpt-4o\",\"prompt_cache_key\":\"tenant-7\",\"messages\":[{\"role\":\"user\","
                    + "\"content\":\"question " + i + "\"}]}"));
        }
        assertThat(byKey).hasSize(1);
    }

    @Test
    void differentPromptsSpreadOverTheKeys() {
        startKeymux(threeKeys(true));
        Set<String> used = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            used.add(keyFor(conversation("You are assistant number " + i + ".", 1)));
        }
        assertThat(used).containsExactlyInAnyOrder("a", "b", "c");
    }

    @Test
    void withPromptAffinityOffTheStrategyDecides() {
        startKeymux(threeKeys(false));
        Set<String> used = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            used.add(keyFor(conversation("You are a dentist.", 1)));
        }
        assertThat(used).containsExactlyInAnyOrder("a", "b", "c");
    }
}
