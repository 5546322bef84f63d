package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.Strategy;
import io.keymux.config.testing.TestConfigs;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Exact selection sequences of each strategy, in the manner of Armeria's WeightedRoundRobinStrategyTest. */
class StrategySequenceTest {

    @Test
    void roundRobinCyclesInConfigOrder() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t")).key(key("c", "t")).build())) {
            assertThat(f.picks("t", 7)).containsExactly("a", "b", "c", "a", "b", "c", "a");
        }
    }

    @Test
    void roundRobinSkipsAKeyWithoutCapacityAndResumesAfterTheLastPick() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t").maxRpm(1L)).key(key("c", "t")).build())) {
            assertThat(f.picks("t", 6)).containsExactly("a", "b", "c", "a", "c", "a");
        }
    }

    @Test
    void priorityPrefersTheHighestAndRoundRobinsAmongEquals() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").strategy(Strategy.PRIORITY))
                .key(key("low", "t").priority(1)).key(key("h1", "t").priority(3).maxRpm(2L))
                .key(key("h2", "t").priority(3).maxRpm(2L)).build())) {
            assertThat(f.picks("t", 6)).containsExactly("h1", "h2", "h1", "h2", "low", "low");
        }
    }

    @Test
    void costPrefersTheCheapestInputPlusOutputPrice() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").strategy(Strategy.COST))
                .key(key("dear", "t").costPerInputToken(0.002).costPerOutputToken(0.002))
                .key(key("cheap", "t").costPerInputToken(0.0005).costPerOutputToken(0.001).maxRpm(2L))
                .key(key("mid", "t").costPerInputToken(0.001).costPerOutputToken(0.001).maxRpm(1L)).build())) {
            assertThat(f.picks("t", 5)).containsExactly("cheap", "cheap", "mid", "dear", "dear");
        }
    }

    @Test
    void leastLoadedPicksTheLowestUtilisation() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").strategy(Strategy.LEAST_LOADED))
                .key(key("a", "t").maxRpm(10L)).key(key("b", "t").maxRpm(20L)).build())) {
            // a: 1/10 per pick, b: 1/20 per pick; ties go to the earlier key.
            assertThat(f.picks("t", 6)).containsExactly("a", "b", "b", "a", "b", "b");
        }
    }

    @Test
    void leastLoadedCountsInFlightAgainstMaxConcurrent() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").strategy(Strategy.LEAST_LOADED))
                .key(key("a", "t").maxConcurrent(2)).key(key("b", "t").maxConcurrent(4)).build())) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                ids.add(f.lease("t").key().keyId()); // held, not settled
            }
            assertThat(ids).containsExactly("a", "b", "b", "a", "b", "b");
        }
    }

    @Test
    void weightedIsNginxSmoothWeightedRoundRobin() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").strategy(Strategy.WEIGHTED))
                .key(key("a", "t").weight(5)).key(key("b", "t").weight(1)).key(key("c", "t").weight(1)).build())) {
            assertThat(f.picks("t", 14)).containsExactly(
                    "a", "a", "b", "a", "c", "a", "a",
                    "a", "a", "b", "a", "c", "a", "a");
        }
    }

    @Test
    void latencyPrefersTheFastestAndExploresEveryTenthPick() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").strategy(Strategy.LATENCY))
                .key(key("slow", "t")).key(key("fast", "t")).build())) {
            // Unmeasured keys count as 0: slow first, then fast (still unmeasured) is tried.
            Lease first = f.lease("t");
            assertThat(first.key().keyId()).isEqualTo("slow");
            first.settle(new Outcome.Answered(200, 1, 1, true, 900_000_000));
            Lease second = f.lease("t");
            assertThat(second.key().keyId()).isEqualTo("fast");
            second.settle(new Outcome.Answered(200, 1, 1, true, 100_000_000));
            List<String> ids = new ArrayList<>();
            for (int i = 3; i <= 12; i++) {
                Lease l = f.lease("t");
                ids.add(l.key().keyId());
                l.settle(new Outcome.Answered(200, 1, 1, true,
                        l.key().keyId().equals("fast") ? 100_000_000 : 900_000_000));
            }
            // picks 3..12: the 10th pick explores (round robin), the rest take the fastest.
            assertThat(ids).containsExactly("fast", "fast", "fast", "fast", "fast", "fast", "fast", "slow",
                    "fast", "fast");
        }
    }

    @Test
    void ownKeysBeforeFallbackKeysBeforeAnyTaskKeys() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("main").fallback("backup"))
                .task(task("backup"))
                .key(key("star", "*")).key(key("b", "backup").maxRpm(1L)).key(key("m", "main").maxRpm(2L)).build())) {
            assertThat(f.picks("main", 5)).containsExactly("m", "m", "b", "star", "star");
        }
    }

    @Test
    void excludedKeysAreSkippedAndNoUntriedKeyWhenOnlyTriedKeysHaveRoom() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t").maxRpm(1L)).build())) {
            assertThat(f.lease("t", 1, "a").key().keyId()).isEqualTo("b");
            Rejection r = f.rejection("t", 1, "a");
            assertThat(r.reason()).isEqualTo(Rejection.Reason.NO_UNTRIED_KEY);
            assertThat(f.rejection("t", 1, "a", "b").reason()).isEqualTo(Rejection.Reason.NO_UNTRIED_KEY);
        }
    }
}
