package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** A request's key preference: pinned (an order of one, no failover) and ordered (prompt affinity). */
class KeyPreferenceTest {

    private static KeyRequest request(String task, KeyPreference preference, String... excluded) {
        return new KeyRequest(task, "client-a", 1, Set.of(excluded), null, preference);
    }

    private static List<String> picks(BrokerFixture f, String task, KeyPreference preference, int n) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Admission a = f.broker.acquire(request(task, preference)).join();
            assertThat(a).isInstanceOf(Lease.class);
            Lease lease = (Lease) a;
            ids.add(lease.key().keyId());
            lease.settle(new Outcome.Answered(200, 0, 0, false, 1_000_000));
        }
        return ids;
    }

    @Test
    void aPinnedRequestTakesItsKeyEveryTimeWhateverTheStrategy() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t")).key(key("c", "t")).build())) {
            assertThat(picks(f, "t", KeyPreference.pinned("b"), 5)).containsOnly("b").hasSize(5);
        }
    }

    @Test
    void aPinnedRequestWaitsForItsKeyInsteadOfTakingAnother() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofMinutes(5)))
                .key(key("a", "t")).key(key("b", "t").maxRpm(1L)).build())) {
            f.broker.acquire(request("t", KeyPreference.pinned("b"))).join();
            CompletableFuture<Admission> waiting = f.broker.acquire(request("t", KeyPreference.pinned("b")));
            assertThat(waiting).isNotDone();
            // Key a has room all along and is never offered.
            assertThat(f.lease("t").key().keyId()).isEqualTo("a");
            f.timer.advance(Duration.ofSeconds(59));
            assertThat(waiting).isNotDone();
            f.timer.advance(Duration.ofSeconds(1));
            assertThat(waiting).isDone();
            assertThat(((Lease) waiting.join()).key().keyId()).isEqualTo("b");
        }
    }

    @Test
    void aPinnedRequestIsRefusedAtMaxWaitNamingItsKey() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(2)))
                .key(key("a", "t")).key(key("b", "t").maxRpm(1L)).build())) {
            f.broker.acquire(request("t", KeyPreference.pinned("b"))).join();
            CompletableFuture<Admission> waiting = f.broker.acquire(request("t", KeyPreference.pinned("b")));
            f.timer.advance(Duration.ofSeconds(2));
            Rejection rejection = (Rejection) waiting.join();
            assertThat(rejection.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(rejection.message()).contains("key 'b'");
        }
    }

    @Test
    void aPinnedRequestThatTriedItsKeyDoesNotFailOver() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t")).build())) {
            Admission a = f.broker.acquire(request("t", KeyPreference.pinned("b"), "b")).join();
            assertThat(a).isInstanceOf(Rejection.class);
            assertThat(((Rejection) a).reason()).isEqualTo(Rejection.Reason.NO_UNTRIED_KEY);
        }
    }

    @Test
    void aPinnedKeyThatIsNoLongerConfiguredIsRefused() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).build())) {
            Rejection r = (Rejection) f.broker.acquire(request("t", KeyPreference.pinned("gone"))).join();
            assertThat(r.reason()).isEqualTo(Rejection.Reason.ALL_DISABLED);
            assertThat(r.message()).contains("'gone'").contains("no longer configured");
        }
    }

    @Test
    void anOrderedPreferenceOverridesTheStrategyWhileItsFirstKeyHasRoom() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t").maxRpm(2L)).key(key("c", "t")).build())) {
            // b first while it has room, then the next in the order (c), never the strategy's a.
            assertThat(picks(f, "t", KeyPreference.ordered(List.of("b", "c", "a")), 4))
                    .containsExactly("b", "b", "c", "c");
        }
    }

    @Test
    void anOrderedPreferenceFallsBackToTheStrategyWhenNoneOfItsKeysHasRoom() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t").maxRpm(1L)).build())) {
            assertThat(picks(f, "t", KeyPreference.ordered(List.of("b")), 3)).containsExactly("b", "a", "a");
        }
    }

    @Test
    void anOrderedPreferenceSkipsKeysAlreadyTried() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).key(key("b", "t")).key(key("c", "t")).build())) {
            Lease lease = (Lease) f.broker.acquire(request("t", KeyPreference.ordered(List.of("b", "c", "a")), "b"))
                    .join();
            assertThat(lease.key().keyId()).isEqualTo("c");
        }
    }
}
