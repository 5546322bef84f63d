package io.keymux.core.insight;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.Strategy;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecommenderTest {
    private final Recommender recommender = Recommender.defaults();

    private static KeyObservation key(String id, String task, long requests, long successes) {
        return new KeyObservation(id, List.of(task), false, "active", requests, successes, 100, 0.0, 0.00001, null, 0);
    }

    private static TaskObservation task(String name, Strategy strategy, List<String> keys, List<String> fallback) {
        return new TaskObservation(name, strategy, keys, fallback);
    }

    private static final TaskObservation PAIR = task("chat", Strategy.ROUND_ROBIN, List.of("a", "b"), List.of());

    @Test
    void healthyPoolHasNoRecommendationsAndFullScore() {
        var r = recommender.recommend(List.of(PAIR), List.of(key("a", "chat", 50, 50), key("b", "chat", 50, 50)));

        assertThat(r.recommendations()).isEmpty();
        assertThat(r.optimizationScore()).isEqualTo(100);
    }

    @Test
    void keyHotForMostOfTheWindowAsksForCapacity() {
        KeyObservation hot = new KeyObservation("a", List.of("chat"), false, "active", 50, 50, 100, 0.75, 0.00001, null, 0);
        KeyObservation warm = new KeyObservation("b", List.of("chat"), false, "active", 50, 50, 100, 0.5, 0.00001, null, 0);

        var r = recommender.recommend(List.of(PAIR), List.of(hot, warm));

        assertThat(r.recommendations()).singleElement().satisfies(rec -> {
            assertThat(rec.type()).isEqualTo("add_capacity");
            assertThat(rec.keyId()).isEqualTo("a");
            assertThat(rec.message()).isEqualTo("Key 'a' used more than 80% of its RPM or TPM for 75.0% of the"
                    + " window: raise its limits with the provider or add another key to task 'chat'.");
        });
        assertThat(r.optimizationScore()).isEqualTo(90);
    }

    @Test
    void lowSuccessRateIsReportedOnlyWithEnoughRequests() {
        var r = recommender.recommend(List.of(PAIR), List.of(key("a", "chat", 40, 30), key("b", "chat", 5, 1)));

        assertThat(r.recommendations()).singleElement().satisfies(rec -> {
            assertThat(rec.type()).isEqualTo("low_success_rate");
            assertThat(rec.keyId()).isEqualTo("a");
            assertThat(rec.message()).startsWith("Key 'a' succeeded on only 75.0% of 40 requests");
        });
    }

    @Test
    void keySlowerThanTwiceItsPoolIsReported() {
        TaskObservation trio = task("chat", Strategy.ROUND_ROBIN, List.of("a", "b", "c"), List.of());
        KeyObservation slow = new KeyObservation("a", List.of("chat"), false, "active", 20, 20, 900, 0, 0, null, 0);
        KeyObservation b = new KeyObservation("b", List.of("chat"), false, "active", 20, 20, 300, 0, 0, null, 0);
        KeyObservation c = new KeyObservation("c", List.of("chat"), false, "active", 20, 20, 350, 0, 0, null, 0);

        var r = recommender.recommend(List.of(trio), List.of(slow, b, c));

        assertThat(r.recommendations()).singleElement().satisfies(rec -> {
            assertThat(rec.type()).isEqualTo("slow_key");
            assertThat(rec.keyId()).isEqualTo("a");
            assertThat(rec.task()).isEqualTo("chat");
            assertThat(rec.message()).startsWith("Key 'a' averages 900 ms against 325 ms for the other keys of task 'chat'");
        });
    }

    @Test
    void singleKeyWithoutFallbackHasNoRedundancy() {
        TaskObservation lonely = task("billing", Strategy.ROUND_ROBIN, List.of("bill"), List.of());
        TaskObservation covered = task("chat", Strategy.ROUND_ROBIN, List.of("c"), List.of("backup"));
        TaskObservation backup = task("backup", Strategy.ROUND_ROBIN, List.of("k", "l"), List.of());

        var r = recommender.recommend(List.of(lonely, covered, backup),
                List.of(key("bill", "billing", 1, 1), key("c", "chat", 1, 1), key("k", "backup", 1, 1), key("l", "backup", 1, 1)));

        assertThat(r.recommendations()).singleElement().satisfies(rec -> {
            assertThat(rec.type()).isEqualTo("no_redundancy");
            assertThat(rec.task()).isEqualTo("billing");
            assertThat(rec.message()).isEqualTo("Task 'billing' has a single key ('bill') and no fallback: add a"
                    + " second key or a fallback task, so one 429 or outage does not stop the task.");
        });
    }

    @Test
    void anyTaskKeyCountsAsRedundancy() {
        TaskObservation lonely = task("billing", Strategy.ROUND_ROBIN, List.of("bill"), List.of());
        KeyObservation star = new KeyObservation("star", List.of(), true, "active", 1, 1, 100, 0, 0, null, 0);

        var r = recommender.recommend(List.of(lonely), List.of(key("bill", "billing", 1, 1), star));

        assertThat(r.recommendations()).isEmpty();
    }

    @Test
    void idleKeyIsToldToJoinTheBusiestOtherTask() {
        TaskObservation finance = task("finance", Strategy.ROUND_ROBIN, List.of("f1", "f2"), List.of());
        TaskObservation chat = task("chat", Strategy.ROUND_ROBIN, List.of("c1", "c2"), List.of());

        var r = recommender.recommend(List.of(finance, chat), List.of(
                key("f1", "finance", 3, 3), key("f2", "finance", 0, 0), key("c1", "chat", 40, 40), key("c2", "chat", 40, 40)));

        assertThat(r.recommendations()).singleElement().satisfies(rec -> {
            assertThat(rec.type()).isEqualTo("idle_key");
            assertThat(rec.keyId()).isEqualTo("f2");
            assertThat(rec.message()).isEqualTo("Key 'f2' served no request during the window: merge it into the"
                    + " pool of a busier task such as 'chat', or remove it.");
        });
    }

    @Test
    void noIdleReportWhenNothingRan() {
        var r = recommender.recommend(List.of(PAIR), List.of(key("a", "chat", 0, 0), key("b", "chat", 0, 0)));

        assertThat(r.recommendations()).isEmpty();
    }

    @Test
    void budgetAboutToRunOutIsReported() {
        KeyObservation spending = new KeyObservation("a", List.of("chat"), false, "active", 10, 10, 100, 0, 0, 5.0, 4.10);
        KeyObservation spent = new KeyObservation("b", List.of("chat"), false, "budget_exhausted", 10, 10, 100, 0, 0, 5.0, 5.0);

        var r = recommender.recommend(List.of(PAIR), List.of(spending, spent));

        assertThat(r.recommendations()).extracting(Recommendation::type).containsExactly("budget_low", "budget_low");
        assertThat(r.recommendations().get(0).message()).startsWith("Key 'a' has spent $4.10 of its $5.00 daily budget");
        assertThat(r.recommendations().get(1).message()).startsWith("Key 'b' has spent its whole $5.00 daily budget");
    }

    @Test
    void budgetWarnAtSetsTheShareAndSaysTheKeyIsRankedAfterTheOthers() {
        KeyObservation early = new KeyObservation("a", List.of("chat"), false, "active", 10, 10, 100, 0, 0, 10.0, 5.5,
                0.5);
        KeyObservation under = new KeyObservation("b", List.of("chat"), false, "active", 10, 10, 100, 0, 0, 10.0, 4.0,
                0.5);

        var r = recommender.recommend(List.of(PAIR), List.of(early, under));

        assertThat(r.recommendations()).extracting(Recommendation::type).containsExactly("budget_low");
        assertThat(r.recommendations().get(0).keyId()).isEqualTo("a");
        assertThat(r.recommendations().get(0).message()).contains("$5.50 of its $10.00")
                .contains("past budget_warn_at (50.0%)").contains("ranks it after");
    }

    @Test
    void aQuotaExhaustedKeyIsToldToTopUp() {
        KeyObservation empty = new KeyObservation("a", List.of("chat"), false, "quota_exhausted", 10, 0, 100, 0, 0,
                null, 0);
        KeyObservation fine = new KeyObservation("b", List.of("chat"), false, "active", 10, 10, 100, 0, 0, null, 0);

        var r = recommender.recommend(List.of(PAIR), List.of(empty, fine));

        assertThat(r.recommendations()).filteredOn(x -> x.type().equals("quota_exhausted")).singleElement()
                .satisfies(x -> {
                    assertThat(x.keyId()).isEqualTo("a");
                    assertThat(x.message()).contains("top up").contains("quota_probe");
                });
    }

    @Test
    void priorityTaskLeavingACheaperKeyUnusedIsReported() {
        TaskObservation billing = task("billing", Strategy.PRIORITY, List.of("premium", "cheap"), List.of());
        KeyObservation premium = new KeyObservation("premium", List.of("billing"), false, "active", 30, 30, 100, 0, 0.0002, null, 0);
        KeyObservation cheap = new KeyObservation("cheap", List.of("billing"), false, "active", 0, 0, 0, 0, 0.00005, null, 0);

        var r = recommender.recommend(List.of(billing), List.of(premium, cheap));

        assertThat(r.recommendations()).extracting(Recommendation::type).contains("cheaper_key_unused");
        Recommendation rec = r.recommendations().stream().filter(x -> x.type().equals("cheaper_key_unused")).findFirst().orElseThrow();
        assertThat(rec.keyId()).isEqualTo("cheap");
        assertThat(rec.message()).isEqualTo("Task 'billing' (strategy priority) sends its traffic to 'premium' at"
                + " $0.000200/token while its cheaper key 'cheap' at $0.000050/token is unused: raise that key's"
                + " priority or use the cost strategy.");
    }

    @Test
    void scoreNeverGoesBelowZero() {
        List<KeyObservation> keys = new java.util.ArrayList<>();
        List<TaskObservation> tasks = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            keys.add(new KeyObservation("k" + i, List.of("t" + i), false, "active", 100, 10, 100, 0.9, 0, null, 0));
            tasks.add(task("t" + i, Strategy.ROUND_ROBIN, List.of("k" + i), List.of()));
        }

        assertThat(recommender.recommend(tasks, keys).optimizationScore()).isZero();
    }
}
