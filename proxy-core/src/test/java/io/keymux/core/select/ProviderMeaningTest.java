package io.keymux.core.select;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.core.ratelimit.ProviderLimits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Keys and upstreams as the providers mean them: quota_exhausted keys probed every quota_probe,
 * disabled keys probed every disabled_probe, an overloaded upstream backed off for all its keys,
 * per-model buckets within the key-wide ones, and budget_warn_at ranking.
 */
class ProviderMeaningTest {
    private static final Outcome OK = new Outcome.Answered(200, 0, 0, false, 1_000_000);

    @TempDir
    Path dir;

    private BrokerFixture fixture(String yaml) {
        return new BrokerFixture(TestConfigs.yaml(dir, "server: { allow_unauthenticated: true }\n" + yaml, Map.of()));
    }

    private static final String TWO_KEYS = """
            health: { quota_probe: 10m }
            tasks:
              - { name: t, max_wait: 0s }
            api_keys:
              - { key_id: a, api_key: sk-a, task_types: [t] }
              - { key_id: b, api_key: sk-b, task_types: [t] }
            """;

    @Test
    void aQuotaExhaustedKeyIsSkippedAndProbedWithOneRequestEveryQuotaProbe() {
        try (BrokerFixture f = fixture(TWO_KEYS)) {
            long start = f.time.currentTimeMillis();
            f.lease("t").settle(new Outcome.QuotaExhausted(429));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.QUOTA_EXHAUSTED);
            assertThat(f.status("a").cooldownUntilMillis()).isEqualTo(start + 600_000);
            assertThat(f.picks("t", 4)).containsOnly("b");
            f.time.advance(Duration.ofMinutes(10));
            Lease probe = f.lease("t");
            assertThat(probe.key().keyId()).isEqualTo("a");
            // While the probe is out, nobody else is sent to the empty account.
            assertThat(f.picks("t", 3)).containsOnly("b");
            probe.settle(new Outcome.QuotaExhausted(429));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.QUOTA_EXHAUSTED);
            assertThat(f.picks("t", 3)).containsOnly("b");
            f.time.advance(Duration.ofMinutes(10));
            Lease second = f.lease("t");
            assertThat(second.key().keyId()).isEqualTo("a");
            second.settle(OK);
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.picks("t", 4)).containsExactlyInAnyOrder("a", "b", "a", "b");
        }
    }

    @Test
    void whenEveryKeyIsOutOfQuotaTheRequestIsRefusedAtOnceSayingToTopUp() {
        try (BrokerFixture f = fixture(TWO_KEYS.replace("max_wait: 0s", "max_wait: 30s"))) {
            f.lease("t").settle(new Outcome.QuotaExhausted(402));
            f.time.advance(Duration.ofMinutes(4));
            f.lease("t").settle(new Outcome.QuotaExhausted(429));
            Rejection r = f.rejection("t", 1);
            assertThat(r.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
            assertThat(r.message()).contains("quota_exhausted").contains("top up");
            // The soonest probe is a's, six minutes away.
            assertThat(r.retryAfter()).isEqualTo(Duration.ofMinutes(6));
        }
    }

    @Test
    void aDisabledKeyStaysDisabledWithDisabledProbeOff() {
        try (BrokerFixture f = fixture(TWO_KEYS.replace("quota_probe: 10m", "disabled_probe: \"off\""))) {
            f.lease("t").settle(new Outcome.Unauthorized(401));
            f.time.advance(Duration.ofHours(5));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.DISABLED);
            assertThat(f.status("a").cooldownUntilMillis()).isNull();
            assertThat(f.picks("t", 4)).containsOnly("b");
        }
    }

    @Test
    void enableClearsDisabledQuotaCircuitAndCooldownAndOnlyForAKnownKey() throws Exception {
        try (BrokerFixture f = fixture(TWO_KEYS.replace("quota_probe: 10m", "quota_probe: 10m, failure_threshold: 1"))) {
            f.lease("t").settle(new Outcome.Unauthorized(401));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.DISABLED);
            assertThat(f.broker.enable("a").get()).isTrue();
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(f.status("a").cooldownUntilMillis()).isNull();

            for (Outcome refusal : List.of(new Outcome.QuotaExhausted(402), new Outcome.ServerError(500),
                    new Outcome.RateLimited(Duration.ofMinutes(5)))) {
                Lease lease = f.lease("t");
                while (!lease.key().keyId().equals("a")) {
                    lease.settle(OK);
                    lease = f.lease("t");
                }
                lease.settle(refusal);
                assertThat(f.status("a").state()).as(refusal.toString()).isNotEqualTo(KeyStatus.State.ACTIVE);
                assertThat(f.picks("t", 2)).as(refusal.toString()).containsOnly("b");
                assertThat(f.broker.enable("a").get()).isTrue();
                assertThat(f.status("a").state()).as(refusal.toString()).isEqualTo(KeyStatus.State.ACTIVE);
                assertThat(f.picks("t", 4)).as(refusal.toString()).contains("a");
            }
            assertThat(f.broker.enable("nope").get()).isFalse();
        }
    }

    @Test
    void byDefaultADisabledKeyGetsOneRealRequestEveryTenMinutes() {
        try (BrokerFixture f = fixture(TWO_KEYS)) {
            long start = f.time.currentTimeMillis();
            f.lease("t").settle(new Outcome.Unauthorized(401));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.DISABLED);
            assertThat(f.status("a").cooldownUntilMillis()).isEqualTo(start + 600_000);
            f.time.advance(Duration.ofMinutes(9));
            assertThat(f.picks("t", 3)).containsOnly("b");
            f.time.advance(Duration.ofMinutes(1));
            Lease probe = f.lease("t");
            assertThat(probe.key().keyId()).isEqualTo("a");
            probe.settle(OK);
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
        }
    }

    @Test
    void withDisabledProbeADisabledKeyGetsOneRequestThatCanRestoreIt() {
        try (BrokerFixture f = fixture(TWO_KEYS.replace("quota_probe: 10m", "disabled_probe: 2m"))) {
            f.lease("t").settle(new Outcome.Unauthorized(403));
            assertThat(f.picks("t", 2)).containsOnly("b");
            f.time.advance(Duration.ofMinutes(2));
            Lease probe = f.lease("t");
            assertThat(probe.key().keyId()).isEqualTo("a");
            assertThat(f.picks("t", 2)).containsOnly("b");
            probe.settle(new Outcome.Unauthorized(401));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.DISABLED);
            f.time.advance(Duration.ofMinutes(2));
            Lease again = f.lease("t");
            assertThat(again.key().keyId()).isEqualTo("a");
            again.settle(OK);
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
        }
    }

    private static final String TWO_UPSTREAMS = """
            health: { overload_backoff: 5s }
            upstreams:
              alt: { base_url: "http://alt.example", auth: bearer }
            tasks:
              - { name: t, max_wait: 0s, upstream: anthropic }
              - { name: solo, max_wait: 10s, upstream: anthropic }
            api_keys:
              - { key_id: a1, api_key: sk-a1, task_types: [t, solo], upstream: anthropic }
              - { key_id: a2, api_key: sk-a2, task_types: [t, solo], upstream: anthropic }
              - { key_id: o1, api_key: sk-o1, task_types: [t], upstream: alt }
            """;

    @Test
    void anOverloadedUpstreamGetsNoRequestOnAnyOfItsKeysForTheBackoff() {
        try (BrokerFixture f = fixture(TWO_UPSTREAMS)) {
            Lease first = f.lease("t");
            assertThat(first.key().keyId()).isEqualTo("a1");
            first.settle(new Outcome.Overloaded(529, null));
            // The sibling key on the same provider is not tried: only the other upstream's key.
            assertThat(f.picks("t", 3)).containsOnly("o1");
            assertThat(f.status("a1").state()).isEqualTo(KeyStatus.State.ACTIVE);
            f.time.advance(Duration.ofSeconds(5));
            assertThat(f.picks("t", 3)).containsExactlyInAnyOrder("a1", "a2", "o1");
        }
    }

    @Test
    void withOnlyTheOverloadedUpstreamLeftTheRequestGetsUpstreamOverloadedAtOnce() {
        try (BrokerFixture f = fixture(TWO_UPSTREAMS)) {
            f.lease("solo").settle(new Outcome.Overloaded(503, Duration.ofSeconds(12)));
            f.time.advance(Duration.ofSeconds(2));
            Rejection r = f.rejection("solo", 1);
            assertThat(r.reason()).isEqualTo(Rejection.Reason.UPSTREAM_OVERLOADED);
            // The provider's Retry-After (12 s) was longer than overload_backoff (5 s).
            assertThat(r.retryAfter()).isEqualTo(Duration.ofSeconds(10));
            assertThat(r.message()).contains("overloaded");
            f.time.advance(Duration.ofSeconds(10));
            assertThat(f.lease("solo").key().upstream()).isEqualTo("anthropic");
        }
    }

    private static final String MODELS = """
            tasks:
              - { name: t, max_wait: 0s }
            api_keys:
              - key_id: a
                api_key: sk-a
                task_types: [t]
                max_rpm: 5
                models:
                  "gpt-4o": { max_rpm: 2 }
                  "gpt-4o-mini*": { max_rpm: 4, max_tpm: 1000 }
              - { key_id: b, api_key: sk-b, task_types: [t] }
            """;

    @Test
    void theRequestsModelPicksTheBucketWithinTheKeyWideLimits() {
        try (BrokerFixture f = fixture(MODELS.replace("- { key_id: b, api_key: sk-b, task_types: [t] }", ""))) {
            assertThat(f.picksFor("t", "gpt-4o", 2)).containsExactly("a", "a");
            // gpt-4o's bucket (2) is empty; the mini bucket and the key-wide one still have room.
            assertThat(f.broker.acquire(new KeyRequest("t", "c", 1, java.util.Set.of(), "gpt-4o")).join())
                    .isInstanceOf(Rejection.class);
            assertThat(f.picksFor("t", "gpt-4o-mini-2024-07-18", 2)).containsExactly("a", "a");
            // Key-wide max_rpm 5 still applies: one left, for any model.
            assertThat(f.picksFor("t", "o1", 1)).containsExactly("a");
            assertThat(f.broker.acquire(new KeyRequest("t", "c", 1, java.util.Set.of(), "gpt-4o-mini")).join())
                    .isInstanceOf(Rejection.class);
            KeyStatus a = f.status("a");
            assertThat(a.models()).containsOnlyKeys("gpt-4o", "gpt-4o-mini*");
            assertThat(a.models().get("gpt-4o").usage().rpm()).isEqualTo(2);
            assertThat(a.models().get("gpt-4o-mini*").usage().rpm()).isEqualTo(2);
            assertThat(a.models().get("gpt-4o-mini*").limits().tpm()).isEqualTo(1000);
            assertThat(a.usage().rpm()).isEqualTo(5);
        }
    }

    @Test
    void aRateLimitNamingTheModelCoolsThatBucketOnlyAndAKeyWideOneCoolsTheKey() {
        try (BrokerFixture f = fixture(MODELS)) {
            f.leaseFor("t", "gpt-4o").settle(new Outcome.RateLimited(Duration.ofSeconds(20), true));
            KeyStatus a = f.status("a");
            assertThat(a.state()).isEqualTo(KeyStatus.State.ACTIVE);
            assertThat(a.models().get("gpt-4o").state()).isEqualTo(KeyStatus.State.COOLING_DOWN);
            assertThat(a.models().get("gpt-4o").cooldownUntilMillis()).isEqualTo(f.time.currentTimeMillis() + 20_000);
            assertThat(f.picksFor("t", "gpt-4o", 3)).containsOnly("b");
            assertThat(f.picksFor("t", "gpt-4o-mini", 2)).containsExactlyInAnyOrder("a", "b");
            f.time.advance(Duration.ofSeconds(20));
            assertThat(f.status("a").models().get("gpt-4o").state()).isEqualTo(KeyStatus.State.ACTIVE);
            // A 429 that does not name the model is the key's: every model of it cools.
            Lease l = f.leaseFor("t", "gpt-4o");
            assertThat(l.key().keyId()).isEqualTo("a");
            l.settle(new Outcome.RateLimited(Duration.ofSeconds(20), false));
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.COOLING_DOWN);
            assertThat(f.picksFor("t", "gpt-4o-mini", 2)).containsOnly("b");
        }
    }

    @Test
    void providerHeadersForAModelLowerThatBucketOnly() {
        try (BrokerFixture f = fixture(MODELS)) {
            Lease l = f.leaseFor("t", "gpt-4o-mini");
            assertThat(l.key().keyId()).isEqualTo("a");
            l.observe(new ProviderLimits(0L, null, null, null));
            l.settle(OK);
            // The mini bucket is empty by the provider's word; the key and gpt-4o still have room.
            assertThat(f.picksFor("t", "gpt-4o-mini", 2)).containsOnly("b");
            assertThat(f.picksFor("t", "gpt-4o", 2)).containsExactlyInAnyOrder("a", "b");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"round_robin", "priority", "cost", "least_loaded", "latency", "weighted"})
    void aKeyPastBudgetWarnAtIsRankedAfterTheOthersByEveryStrategy(String strategy) {
        try (BrokerFixture f = fixture("""
                tasks:
                  - { name: t, max_wait: 0s, strategy: %s }
                api_keys:
                  - { key_id: a, api_key: sk-a, task_types: [t], priority: 3, cost_per_token: 0.001,
                      daily_budget_usd: 1.0, budget_warn_at: 0.5 }
                  - { key_id: b, api_key: sk-b, task_types: [t], priority: 2, cost_per_token: 0.002, max_rpm: 2 }
                  - { key_id: c, api_key: sk-c, task_types: [t], priority: 2, cost_per_token: 0.002, max_rpm: 2 }
                """.formatted(strategy))) {
            Lease first = f.lease("t");
            assertThat(first.key().keyId()).isEqualTo("a");
            first.settle(new Outcome.Answered(200, 300, 300, true, 1_000_000)); // 0.60 USD of 1.00
            assertThat(f.status("a").budgetWarning()).isTrue();
            assertThat(f.status("a").state()).isEqualTo(KeyStatus.State.ACTIVE);
            // Ranked after b and c, not skipped: once they are out of capacity, a serves again.
            assertThat(f.picks("t", 6)).containsExactly("b", "c", "b", "c", "a", "a");
        }
    }
}
