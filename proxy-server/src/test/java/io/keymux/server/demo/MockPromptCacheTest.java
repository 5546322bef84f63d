package io.keymux.server.demo;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The mock's per-key prompt cache behaves as OpenAI documents its own: 1024-token prefixes, 128-token steps. */
class MockPromptCacheTest {
    private static final long TTL = 300_000_000_000L;

    private static byte[] prompt(String system, String question) {
        return ("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"" + system + "\"},"
                + "{\"role\":\"user\",\"content\":\"" + question + "\"}]}").getBytes(UTF_8);
    }

    @Test
    void aRepeatedLongPrefixIsServedFromTheCacheInSteps() {
        MockPromptCache cache = new MockPromptCache(TTL);
        String system = "x".repeat(6000);
        byte[] first = prompt(system, "first question");
        assertThat(cache.lookupAndStore(first, 0)).isZero();
        long cached = cache.lookupAndStore(prompt(system, "another question"), 1);
        // The shared prefix is ~6040 bytes = 1510 tokens: the largest checkpoint within it is 1024 + 3 * 128.
        assertThat(cached).isEqualTo(1024 + 3 * 128);
        assertThat(cached).isLessThan(first.length / 4);
    }

    @Test
    void shortPromptsStaleEntriesAndOtherPrefixesAreNotCached() {
        MockPromptCache cache = new MockPromptCache(TTL);
        byte[] shortPrompt = prompt("y".repeat(1000), "q");
        cache.lookupAndStore(shortPrompt, 0);
        assertThat(cache.lookupAndStore(shortPrompt, 1)).isZero();

        byte[] longPrompt = prompt("z".repeat(6000), "q");
        cache.lookupAndStore(longPrompt, 0);
        assertThat(cache.lookupAndStore(prompt("w".repeat(6000), "q"), 1)).isZero();
        assertThat(cache.lookupAndStore(longPrompt, TTL + 10)).isZero();
    }
}
