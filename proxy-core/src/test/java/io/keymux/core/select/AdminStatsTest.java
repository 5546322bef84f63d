package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import io.keymux.config.testing.TestConfigs;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The snapshots behind /admin/keys and /admin/metrics, and reload keeping state. */
class AdminStatsTest {

    @Test
    void keyStatesCarryLimitsUsageAndTotals() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("chat")).task(task("code"))
                .key(key("a", "chat", "code").maxRpm(100L).maxTpm(10_000L).maxConcurrent(5)
                        .costPerInputToken(0.001).costPerOutputToken(0.002))
                .key(key("b", "chat")).build())) {
            Lease l1 = f.lease("chat");
            f.lease("code", 1).settle(new Outcome.Answered(200, 100, 50, true, 200_000_000));
            f.lease("chat").settle(new Outcome.Answered(500, 0, 0, false, 0)); // b
            l1.settle(new Outcome.Answered(404, 10, 0, true, 100_000_000));
            Lease held = f.lease("chat");

            KeyStatus a = f.status("a");
            assertThat(a.upstream()).isEqualTo("openai");
            assertThat(a.taskTypes()).containsExactly("chat", "code");
            assertThat(a.state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(a.limits()).isEqualTo(new KeyStatus.Limits(100L, 10_000L, 5));
            assertThat(a.usage()).isEqualTo(new KeyStatus.Usage(3, 160, 1));
            assertThat(a.totalRequests()).isEqualTo(2);
            assertThat(a.successes()).isEqualTo(1);
            assertThat(a.successRatePercent()).isEqualTo(50.0);
            assertThat(a.averageLatencyMillis()).isEqualTo(150.0);
            assertThat(a.promptTokens()).isEqualTo(110);
            assertThat(a.completionTokens()).isEqualTo(50);
            assertThat(a.totalCost()).isEqualTo(0.21, offset(1e-9));
            assertThat(a.spendToday()).isEqualTo(0.21, offset(1e-9));
            assertThat(a.cooldownUntilMillis()).isNull();
            assertThat(f.status("b").limits()).isEqualTo(new KeyStatus.Limits(null, null, null));

            BrokerMetrics m = f.broker.metrics();
            assertThat(m.taskDistribution()).isEqualTo(Map.of("chat", Map.of("a", 2L, "b", 1L), "code", Map.of("a", 1L)));
            assertThat(m.clientCost().get("client-a")).isEqualTo(0.21, offset(1e-9));
            assertThat(f.broker.clients().spentToday("client-a")).isEqualTo(0.21, offset(1e-9));
            held.settle(new Outcome.Cancelled());

            // The 60 s window forgets.
            f.time.advance(Duration.ofSeconds(61));
            assertThat(f.status("a").usage()).isEqualTo(new KeyStatus.Usage(0, 0, 0));
        }
    }

    @Test
    void reloadKeepsAKeysStateProportionallyWhenItsKeyIdStays() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t").maxRpm(10L)).key(key("gone", "t")).build())) {
            for (int i = 0; i < 5; i++) {
                f.lease("t", 1, "gone").settle(new Outcome.Answered(200, 1, 1, true, 1));
            }
            // Half of a's requests are used; doubling the limit keeps it half full: 10 of 20.
            f.broker.reconfigure(TestConfigs.empty().task(task("t"))
                    .key(key("a", "t").maxRpm(20L)).build());
            assertThat(f.broker.keyStates()).extracting(KeyStatus::keyId).containsExactly("a");
            assertThat(f.status("a").totalRequests()).isEqualTo(5);
            for (int i = 0; i < 10; i++) {
                f.lease("t");
            }
            assertThat(f.rejection("t", 1).reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
        }
    }

    @Test
    void reloadServesWaitersOfANewlyAddedKey() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(5)))
                .key(key("a", "t").maxRpm(1L)).build())) {
            f.lease("t");
            var waiter = f.broker.acquire(new KeyRequest("t", "c", 1, Set.of()));
            assertThat(waiter).isNotDone();
            f.broker.reconfigure(TestConfigs.empty().task(task("t").maxWait(Duration.ofSeconds(5)))
                    .key(key("a", "t").maxRpm(1L)).key(key("new", "t")).build());
            assertThat(((Lease) waiter.join()).key().keyId()).isEqualTo("new");
        }
    }

    @Test
    void unknownTaskIsRejectedAtOnce() {
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("a", "t")).build())) {
            assertThat(f.rejection("nope", 1).reason()).isEqualTo(Rejection.Reason.ALL_DISABLED);
        }
    }
}
