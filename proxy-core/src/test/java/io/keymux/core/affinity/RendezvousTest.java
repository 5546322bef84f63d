package io.keymux.core.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Rendezvous order: stable, even, and a removed key moves only its own digests. */
class RendezvousTest {
    private static final List<String> KEYS = List.of("a", "b", "c", "d");

    @Test
    void theOrderIsAPermutationAndTheSameEveryTime() {
        List<String> order = Rendezvous.order(42L, KEYS);
        assertThat(order).containsExactlyInAnyOrderElementsOf(KEYS);
        assertThat(Rendezvous.order(42L, KEYS)).isEqualTo(order);
        // Config order does not matter, only the key ids.
        assertThat(Rendezvous.order(42L, List.of("d", "c", "b", "a"))).isEqualTo(order);
    }

    @Test
    void digestsSpreadEvenlyOverTheKeys() {
        Map<String, Integer> firsts = new HashMap<>();
        for (long d = 0; d < 40_000; d++) {
            firsts.merge(Rendezvous.order(Rendezvous.mix(d), KEYS).get(0), 1, Integer::sum);
        }
        assertThat(firsts.values()).allSatisfy(n -> assertThat(n).isBetween(9_000, 11_000));
    }

    @Test
    void removingAKeyMovesOnlyTheDigestsItRankedFirst() {
        List<String> without = new ArrayList<>(KEYS);
        without.remove("b");
        for (long d = 0; d < 5_000; d++) {
            long digest = Rendezvous.mix(d);
            List<String> before = Rendezvous.order(digest, KEYS);
            List<String> after = Rendezvous.order(digest, without);
            if (!before.get(0).equals("b")) {
                assertThat(after.get(0)).isEqualTo(before.get(0));
            } else {
                // Its digests go to their own second choice.
                assertThat(after.get(0)).isEqualTo(before.get(1));
            }
        }
    }

    @Test
    void thePromptDigestIgnoresWhatComesAfterItsBudget() {
        PromptDigest one = new PromptDigest();
        PromptDigest two = new PromptDigest();
        String stable = "x".repeat(PromptDigest.BUDGET);
        one.add(stable);
        one.add("turn 1");
        two.add(stable);
        two.add("turn 7, much later");
        assertThat(one.value()).isEqualTo(two.value());
        PromptDigest other = new PromptDigest();
        other.add("y" + stable.substring(1));
        assertThat(other.value()).isNotEqualTo(one.value());
    }

    @Test
    void objectIdsAreRecognisedByTheirPrefix() {
        assertThat(ObjectIds.looksLikeObjectId("file-abc123")).isTrue();
        assertThat(ObjectIds.looksLikeObjectId("resp_68af")).isTrue();
        assertThat(ObjectIds.looksLikeObjectId("vs_1")).isTrue();
        assertThat(ObjectIds.looksLikeObjectId("content")).isFalse();
        assertThat(ObjectIds.looksLikeObjectId("files")).isFalse();
        assertThat(ObjectIds.looksLikeObjectId("file-")).isFalse();
        assertThat(ObjectIds.looksLikeObjectId("gpt-4o")).isFalse();
    }

    @Test
    void anthropicsFilesAndMessageBatchesAreObjectIdsButOpenAiPathWordsAreNot() {
        assertThat(ObjectIds.looksLikeObjectId("file_011CNha8iCJcU1wXNR6q4V8w")).isTrue();
        assertThat(ObjectIds.looksLikeObjectId("msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d")).isTrue();
        // Segments of OpenAI's paths (/v1/vector_stores/{id}/file_batches/{id}) and tool types.
        assertThat(ObjectIds.looksLikeObjectId("file_batches")).isFalse();
        assertThat(ObjectIds.looksLikeObjectId("file_search")).isFalse();
    }
}
