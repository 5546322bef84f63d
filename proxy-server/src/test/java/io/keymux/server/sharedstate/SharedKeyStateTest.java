package io.keymux.server.sharedstate;

import io.keymux.config.model.ModelLimits;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.keymux.config.testing.Await;
import io.lettuce.core.RedisURI;
import io.keymux.config.model.HealthConfig;
import io.keymux.core.select.KeyEffect;
import io.keymux.core.select.KeyRule;
import io.keymux.core.select.Outcome;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** {@link SharedKeyState} against a real Redis, with three replicas that each have their own client. */
@ExtendWith(RedisExtension.class)
class SharedKeyStateTest {
    private static final SharedLimits RPM_30 = new SharedLimits(30L, null, null, null, null, null);
    private static final HealthConfig RULES_3 = HealthConfig.builder().failureThreshold(3).circuitCooldown(Duration.ofSeconds(60)).rateLimitCooldown(Duration.ofSeconds(60)).build();

    private Replicas replicas;
    private SharedKeyState a;
    private SharedKeyState b;
    private SharedKeyState c;

    @BeforeEach
    void start(RedisURI uri) {
        replicas = new Replicas(uri);
        a = replicas.start("replica-a");
        b = replicas.start("replica-b");
        c = replicas.start("replica-c");
    }

    @AfterEach
    void stop() {
        replicas.close();
    }

    @Test
    void aScriptCalledWithoutOneOfItsNamedArgumentsFailsInsteadOfReadingItAsUnset() {
        String[] keys = new String[13];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = replicas.prefix + ":{kargs}:k" + i;
        }
        for (String name : List.of("try_take", "settle", "snapshot")) {
            LuaScript script = LuaScript.load(name);
            // Everything but tpm_cap (the scripts read 'tpm_cap' = '' as "capacity = rate").
            String[] args = {"rpm", "10", "rpm_cap", "", "tpm", "100"};
            assertThatThrownBy(() -> replicas.redis().eval(script.body(), io.lettuce.core.ScriptOutputType.MULTI,
                    keys, args))
                    .as(name)
                    .hasMessageContaining("missing script argument: tpm_cap");
        }
        // Nothing was written before the check.
        assertThat(replicas.redis().keys(replicas.prefix + ":{kargs}:*")).isEmpty();
    }

    @Test
    void aModelsBucketIsSharedWithinTheKeyWideLimitsAndCoolsDownAlone() {
        SharedLimits keyWide = new SharedLimits(10L, null, null, null, null, null);
        ModelLimits gpt4o = new ModelLimits("gpt-4o", 2L, null);
        ModelLimits mini = new ModelLimits("gpt-4o-mini*", 100L, null);
        Duration probe = Duration.ofMinutes(10);
        // Two replicas share gpt-4o's 2 requests; the key and the other model still have room.
        assertThat(a.tryTake("km1", keyWide, 0, gpt4o, probe).join().isGranted()).isTrue();
        assertThat(b.tryTake("km1", keyWide, 0, gpt4o, probe).join().isGranted()).isTrue();
        Grant third = c.tryTake("km1", keyWide, 0, gpt4o, probe).join();
        assertThat(third.reason()).isEqualTo(Grant.Reason.RATE_LIMITED);
        assertThat(a.tryTake("km1", keyWide, 0, mini, probe).join().isGranted()).isTrue();
        // A 429 naming mini cools that bucket only, on every replica.
        KeyEffect namedModel = KeyRule.of(new Outcome.RateLimited(Duration.ofSeconds(30), true), 0, RULES_3);
        assertThat(a.settle("km1", keyWide, mini, namedModel, false, RULES_3, 0, 0, true).join()).isTrue();
        Grant cooling = b.tryTake("km1", keyWide, 0, mini, probe).join();
        assertThat(cooling.reason()).isEqualTo(Grant.Reason.COOLING_DOWN);
        assertThat(cooling.retryAfterMillis()).isBetween(28_000L, 30_000L);
        assertThat(b.tryTake("km1", keyWide, 0).join().isGranted()).isTrue();
        assertThat(Replicas.await(c.snapshot("km1", keyWide)).orElseThrow().cooldownUntil()).isNull();
    }

    @Test
    void aQuotaExhaustedKeyIsSkippedEverywhereUntilOneReplicaTakesTheProbe() {
        KeyEffect quota = KeyRule.of(new Outcome.QuotaExhausted(402), 0, RULES_3);
        assertThat(a.tryTake("kq1", RPM_30, 0).join().isGranted()).isTrue();
        HealthConfig shortProbe = new HealthConfig(3, Duration.ofSeconds(60), Duration.ofSeconds(60),
                Duration.ofMillis(300), null, HealthConfig.DEFAULT_OVERLOAD_BACKOFF);
        assertThat(a.settle("kq1", RPM_30, null, quota, false, shortProbe, 0, 0, true).join()).isTrue();
        Grant denied = b.tryTake("kq1", RPM_30, 0, null, Duration.ofMillis(300)).join();
        assertThat(denied.reason()).isEqualTo(Grant.Reason.QUOTA_EXHAUSTED);
        assertThat(denied.retryAfterMillis()).isBetween(1L, 300L);
        assertThat(Replicas.await(c.snapshot("kq1", RPM_30)).orElseThrow().quotaProbeAt()).isNotNull();
        // Once the probe time has come, exactly one replica gets it; the others wait another interval.
        Grant probe = awaitGrantFor(Duration.ofSeconds(10),
                () -> b.tryTake("kq1", RPM_30, 0, null, Duration.ofMinutes(5)));
        assertThat(probe.isGranted()).isTrue();
        assertThat(c.tryTake("kq1", RPM_30, 0, null, Duration.ofMinutes(5)).join().reason())
                .isEqualTo(Grant.Reason.QUOTA_EXHAUSTED);
        KeyEffect answered = KeyRule.of(new Outcome.Answered(200, 1, 1, true, 1), 0, RULES_3);
        assertThat(b.settle("kq1", RPM_30, null, answered, false, RULES_3, 0, 2, true).join()).isTrue();
        assertThat(c.tryTake("kq1", RPM_30, 0).join().isGranted()).isTrue();
        assertThat(Replicas.await(a.snapshot("kq1", RPM_30)).orElseThrow().quotaProbeAt()).isNull();
    }

    @Test
    void threeReplicasHammeringOneKeyGrantExactlyTheRpmCapacity() {
        List<SharedKeyState> all = List.of(a, b, c);
        List<CompletableFuture<Grant>> calls = new ArrayList<>();
        long started = System.nanoTime();
        for (int i = 0; i < 300; i++) {
            calls.add(all.get(i % 3).tryTake("k1", RPM_30, 0));
        }
        List<Grant> grants = calls.stream().map(CompletableFuture::join).toList();
        long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);

        long granted = grants.stream().filter(Grant::isGranted).count();
        // 30 in the bucket, plus whatever refilled meanwhile (0.5 per second): exactly 30 in any run under 2 s.
        assertThat(granted).isBetween(30L, 30L + elapsedMillis / 2000);
        assertThat(grants).filteredOn(grant -> !grant.isGranted()).allSatisfy(grant -> {
            assertThat(grant.reason()).isEqualTo(Grant.Reason.RATE_LIMITED);
            assertThat(grant.retryAfterMillis()).isBetween(1L, 2000L);
        });
        SharedSnapshot snapshot = a.snapshot("k1", RPM_30).join().orElseThrow();
        assertThat(snapshot.rpmTokensLeft()).isLessThan(1.0);
        assertThat(snapshot.inFlight()).isEqualTo(granted);
    }

    @Test
    void concurrencyCapHoldsUnderParallelTakeAndSettle() {
        SharedLimits limits = new SharedLimits(null, null, null, null, 3, null);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicInteger granted = new AtomicInteger();
        AtomicInteger deniedForConcurrency = new AtomicInteger();
        List<CompletableFuture<Void>> workers = new ArrayList<>();
        for (SharedKeyState replica : List.of(a, b, c)) {
            for (int w = 0; w < 4; w++) {
                workers.add(loop(25, () -> replica.tryTake("k2", limits, 0).thenCompose(grant -> {
                    if (!grant.isGranted()) {
                        assertThat(grant.reason()).isEqualTo(Grant.Reason.CONCURRENCY);
                        deniedForConcurrency.incrementAndGet();
                        return CompletableFuture.completedFuture(null);
                    }
                    granted.incrementAndGet();
                    maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                    // Hold the slot across one more round trip so requests overlap.
                    return replica.snapshot("k2", limits).thenCompose(snapshot -> {
                        assertThat(snapshot.orElseThrow().inFlight()).isBetween(1L, 3L);
                        inFlight.decrementAndGet();
                        return settleUsage(replica, "k2", limits, 0, 0, true);
                    }).thenApply(settled -> null);
                })));
            }
        }
        Replicas.await(CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)));

        assertThat(maxInFlight.get()).isBetween(1, 3);
        assertThat(granted.get()).isPositive();
        assertThat(deniedForConcurrency.get()).isPositive();
        assertThat(granted.get() + deniedForConcurrency.get()).isEqualTo(3 * 4 * 25);
        assertThat(a.snapshot("k2", limits).join().orElseThrow().inFlight()).isZero();
    }

    @Test
    void aSettleNeverTakesTheInFlightCountBelowZero() {
        SharedLimits limits = new SharedLimits(null, null, null, null, 1, null);
        assertThat(a.tryTake("k3", limits, 0).join().isGranted()).isTrue();
        assertThat(b.tryTake("k3", limits, 0).join().reason()).isEqualTo(Grant.Reason.CONCURRENCY);
        assertThat(settleUsage(a, "k3", limits, 0, 0, true).join()).isTrue();
        assertThat(settleUsage(a, "k3", limits, 0, 0, true).join()).isTrue();
        assertThat(settleUsage(b, "k3", limits, 0, 0, true).join()).isTrue();

        assertThat(a.snapshot("k3", limits).join().orElseThrow().inFlight()).isZero();
        assertThat(b.tryTake("k3", limits, 0).join().isGranted()).isTrue();
        assertThat(c.tryTake("k3", limits, 0).join().reason()).isEqualTo(Grant.Reason.CONCURRENCY);
    }

    @Test
    void aCrashedReplicasSlotsEndWithItsLeaseWhileTheOthersKeepTheirs(RedisURI uri) {
        SharedLimits limits = new SharedLimits(null, null, null, null, 2, null);
        RedisHealth health = replicas.startHealth(uri);
        SharedKeyState crashing = SharedKeyState.create(health, replicas.prefix, "crashing", Duration.ofMillis(1));
        Replicas.await(health);
        assertThat(a.tryTake("k4", limits, 0).join().isGranted()).isTrue();
        assertThat(crashing.tryTake("k4", limits, 0).join().isGranted()).isTrue();

        // "crashing" never settles; its 1 ms lease is over within a round trip or two, and the
        // next take drops its slot. Replica a's slot (10 min lease) stays counted.
        assertThat(awaitGrant(() -> b.tryTake("k4", limits, 0)).isGranted()).isTrue();
        assertThat(replicas.redis().hget(replicas.prefix + ":{k4}:inflight", "crashing")).isNull();
        assertThat(c.tryTake("k4", limits, 0).join().reason()).isEqualTo(Grant.Reason.CONCURRENCY);
        assertThat(replicas.redis().pttl(replicas.prefix + ":{k4}:inflight")).isGreaterThan(60_000L);
    }

    /** Buckets only refill while a test runs, so token counts are checked from the exact value upwards. */
    @Test
    void tpmReservationIsRefundedOrChargedOnSettle() {
        SharedLimits limits = new SharedLimits(null, null, 1000L, null, null, null);
        assertThat(a.tryTake("k5", limits, 600).join().isGranted()).isTrue();
        Grant tooMuch = b.tryTake("k5", limits, 500).join();
        assertThat(tooMuch.reason()).isEqualTo(Grant.Reason.RATE_LIMITED);
        // 100 tokens missing at 1000 per 60 s: 6 s, less what refilled since.
        assertThat(tooMuch.retryAfterMillis()).isBetween(5000L, 6000L);

        assertThat(settleUsage(a, "k5", limits, 600, 200, false).join()).isTrue();
        assertThat(tokensLeft("k5", limits)).isBetween(800.0, 850.0);

        assertThat(b.tryTake("k5", limits, 500).join().isGranted()).isTrue();
        assertThat(settleUsage(b, "k5", limits, 500, 900, false).join()).isTrue();
        assertThat(tokensLeft("k5", limits)).isBetween(-100.0, -50.0);

        // A refund never overfills the bucket.
        assertThat(settleUsage(c, "k5", limits, 5000, 0, false).join()).isTrue();
        assertThat(tokensLeft("k5", limits)).isEqualTo(1000.0);
    }

    @Test
    void aRequestLargerThanTheTpmCapacityPassesOnAFullBucketAndLeavesItInDebt() {
        SharedLimits limits = new SharedLimits(null, null, 1000L, null, null, null);
        assertThat(a.tryTake("k6", limits, 1500).join().isGranted()).isTrue();
        assertThat(tokensLeft("k6", limits)).isBetween(-500.0, -450.0);
        assertThat(b.tryTake("k6", limits, 1).join().reason()).isEqualTo(Grant.Reason.RATE_LIMITED);
    }

    @Test
    void bucketStateExpiresWhenItWouldBeFullAgain() {
        SharedLimits limits = new SharedLimits(60L, 10L, 6000L, null, null, null);
        assertThat(a.tryTake("k7", limits, 3000).join().isGranted()).isTrue();
        // TPM: 3000 missing at 100 per second = 30 s (RPM refills its 1 in 1 s), plus 1 s of slack.
        long pttl = replicas.redis().pttl(replicas.prefix + ":{k7}:bucket");
        assertThat(pttl).isBetween(29_000L, 31_000L);
        assertThat(replicas.redis().hgetall(replicas.prefix + ":{k7}:bucket")).containsOnlyKeys("rpm", "tpm", "ts");
    }

    @Test
    void aCooldownSetByOneReplicaDeniesAnotherAndIsNeverShortened() {
        assertThat(a.tryTake("k8", RPM_30, 0).join().isGranted()).isTrue();
        assertThat(outcome(a, "k8", RPM_30, new Outcome.RateLimited(Duration.ofSeconds(60)), false)).isTrue();
        Instant until = a.snapshot("k8", RPM_30).join().orElseThrow().cooldownUntil();

        Grant denied = b.tryTake("k8", RPM_30, 0).join();
        assertThat(denied.reason()).isEqualTo(Grant.Reason.COOLING_DOWN);
        assertThat(denied.retryAfterMillis()).isCloseTo(60_000L, within(5_000L));

        // A shorter 429 later never shortens it.
        assertThat(outcome(c, "k8", RPM_30, new Outcome.RateLimited(Duration.ofSeconds(10)), false)).isTrue();
        assertThat(b.tryTake("k8", RPM_30, 0).join().retryAfterMillis()).isGreaterThan(50_000L);
        assertThat(replicas.redis().pttl(replicas.prefix + ":{k8}:cooldown")).isBetween(50_000L, 60_000L);
        assertThat(a.snapshot("k8", RPM_30).join().orElseThrow().cooldownUntil()).isEqualTo(until);

        assertThat(b.tryTake("k9", RPM_30, 0).join().isGranted()).isTrue();
    }

    @Test
    void theCircuitOpensAtTheThresholdAndDeniesOtherReplicas() {
        failure(a, "k10", RULES_3);
        failure(b, "k10", RULES_3);
        assertThat(circuit("k10")).isEqualTo(CircuitState.CLOSED);
        assertThat(c.tryTake("k10", RPM_30, 0).join().isGranted()).isTrue();
        failure(c, "k10", RULES_3);
        assertThat(circuit("k10")).isEqualTo(CircuitState.OPEN);

        Grant denied = a.tryTake("k10", RPM_30, 0).join();
        assertThat(denied.reason()).isEqualTo(Grant.Reason.CIRCUIT_OPEN);
        assertThat(denied.retryAfterMillis()).isCloseTo(60_000L, within(5_000L));
        assertThat(b.snapshot("k10", RPM_30).join().orElseThrow().circuit()).isEqualTo(CircuitState.OPEN);
    }

    @Test
    void aSuccessResetsTheConsecutiveFailureCount() {
        HealthConfig two = HealthConfig.builder().failureThreshold(2).circuitCooldown(Duration.ofSeconds(60)).rateLimitCooldown(Duration.ofSeconds(60)).build();
        failure(a, "k11", two);
        assertThat(outcome(b, "k11", SharedLimits.unlimited(), ANSWERED, false)).isTrue();
        failure(c, "k11", two);
        assertThat(circuit("k11")).isEqualTo(CircuitState.CLOSED);
        failure(c, "k11", two);
        assertThat(circuit("k11")).isEqualTo(CircuitState.OPEN);
    }

    @Test
    void afterTheCooldownExactlyOneProbeGoesAcrossReplicasAndItsOutcomeDecides() {
        HealthConfig one = HealthConfig.builder().failureThreshold(1).circuitCooldown(Duration.ofMillis(300)).rateLimitCooldown(Duration.ofSeconds(60)).build();
        failure(a, "k12", one);
        assertThat(circuit("k12")).isEqualTo(CircuitState.OPEN);
        awaitCircuitCooldown("k12");

        List<Grant> burst = burst("k12");
        assertThat(burst).filteredOn(Grant::isGranted).singleElement().satisfies(grant -> assertThat(grant.probe()).isTrue());
        assertThat(burst).filteredOn(grant -> !grant.isGranted())
                .allSatisfy(grant -> assertThat(grant.reason()).isEqualTo(Grant.Reason.CIRCUIT_OPEN));
        assertThat(a.snapshot("k12", SharedLimits.unlimited()).join().orElseThrow())
                .satisfies(s -> assertThat(s.circuit()).isEqualTo(CircuitState.HALF_OPEN))
                .satisfies(s -> assertThat(s.probeInFlight()).isTrue());

        // A success of a request admitted before the circuit opened does not close it.
        assertThat(outcome(c, "k12", SharedLimits.unlimited(), ANSWERED, false)).isTrue();
        assertThat(circuit("k12")).isIn(CircuitState.HALF_OPEN, CircuitState.OPEN);
        // The probe failed: open again at once, whatever the threshold.
        assertThat(apply(b, "k12", SharedLimits.unlimited(), new Outcome.ServerError(503), true,
                HealthConfig.builder().failureThreshold(3).circuitCooldown(Duration.ofMillis(300)).rateLimitCooldown(Duration.ofSeconds(60)).build())).isTrue();
        assertThat(circuit("k12")).isEqualTo(CircuitState.OPEN);
        assertThat(c.tryTake("k12", SharedLimits.unlimited(), 0).join().reason()).isEqualTo(Grant.Reason.CIRCUIT_OPEN);
        awaitCircuitCooldown("k12");

        assertThat(burst("k12")).filteredOn(Grant::isGranted).hasSize(1);
        assertThat(outcome(c, "k12", SharedLimits.unlimited(), ANSWERED, true)).isTrue();
        assertThat(burst("k12")).allSatisfy(grant -> {
            assertThat(grant.isGranted()).isTrue();
            assertThat(grant.probe()).isFalse();
        });
        assertThat(a.snapshot("k12", SharedLimits.unlimited()).join().orElseThrow().circuit()).isEqualTo(CircuitState.CLOSED);
    }

    @Test
    void aDisabledMarkDeniesEveryReplicaUntilTheCredentialChanges() {
        SharedLimits old = RPM_30.withCredential("0123456789ab");
        assertThat(outcome(a, "k13", old, new Outcome.Unauthorized(401), false)).isTrue();
        Grant denied = b.tryTake("k13", old, 0).join();
        assertThat(denied.reason()).isEqualTo(Grant.Reason.DISABLED);
        assertThat(c.snapshot("k13", old).join().orElseThrow().disabled()).isTrue();

        // The secret was rotated: the mark of the old one no longer holds, on any replica.
        SharedLimits rotated = RPM_30.withCredential("ba9876543210");
        assertThat(c.snapshot("k13", rotated).join().orElseThrow().disabled()).isFalse();
        assertThat(b.tryTake("k13", rotated, 0).join().isGranted()).isTrue();
        assertThat(replicas.redis().exists(replicas.prefix + ":{k13}:disabled")).isZero();
    }

    @Test
    void aDisabledKeyIsProbedByOneReplicaEveryDisabledProbeAndAnAnswerRestoresItEverywhere() {
        SharedLimits kd1Limits = RPM_30.withCredential("0123456789ab");
        HealthConfig shortProbe = RULES_3.toBuilder().disabledProbe(Duration.ofMillis(300)).build();
        Duration quota = Duration.ofMinutes(10);
        assertThat(a.tryTake("kd1", kd1Limits, 0).join().isGranted()).isTrue();
        KeyEffect disable = KeyRule.of(new Outcome.Unauthorized(401), 0, shortProbe);
        assertThat(a.settle("kd1", kd1Limits, null, disable, false, shortProbe, 0, 0, true).join()).isTrue();
        Grant denied = b.tryTake("kd1", kd1Limits, 0, null, quota, Duration.ofMillis(300)).join();
        assertThat(denied.reason()).isEqualTo(Grant.Reason.DISABLED);
        assertThat(denied.retryAfterMillis()).isBetween(1L, 300L);
        SharedSnapshot before = Replicas.await(c.snapshot("kd1", kd1Limits)).orElseThrow();
        assertThat(before.disabled()).isTrue();
        assertThat(before.disabledProbeAt()).isNotNull();
        // With disabled_probe off the key is never offered.
        assertThat(c.tryTake("kd1", kd1Limits, 0, null, quota, null).join().retryAfterMillis()).isZero();

        // Once the probe time has come, exactly one replica gets the probe; the others wait an interval.
        Grant probe = awaitGrantFor(Duration.ofSeconds(10),
                () -> b.tryTake("kd1", kd1Limits, 0, null, quota, Duration.ofMinutes(5)));
        assertThat(probe.isGranted()).isTrue();
        Grant other = c.tryTake("kd1", kd1Limits, 0, null, quota, Duration.ofMinutes(5)).join();
        assertThat(other.reason()).isEqualTo(Grant.Reason.DISABLED);
        assertThat(other.retryAfterMillis()).isBetween(290_000L, 300_000L);
        KeyEffect answered = KeyRule.of(new Outcome.Answered(200, 1, 1, true, 1), 0, RULES_3);
        assertThat(b.settle("kd1", kd1Limits, null, answered, false, RULES_3, 0, 2, true).join()).isTrue();
        assertThat(c.tryTake("kd1", kd1Limits, 0).join().isGranted()).isTrue();
        SharedSnapshot after = Replicas.await(a.snapshot("kd1", kd1Limits)).orElseThrow();
        assertThat(after.disabled()).isFalse();
        // The counter tells every replica's shared view that the key came back.
        assertThat(after.enabledCount()).isEqualTo(before.enabledCount() + 1);
    }

    @Test
    void enableClearsDisabledQuotaCircuitAndCooldownsForEveryReplica() {
        SharedLimits ke1Limits = RPM_30.withCredential("0123456789ab");
        ModelLimits gpt4o = new ModelLimits("gpt-4o", 100L, null);
        HealthConfig oneFailure = RULES_3.toBuilder().failureThreshold(1).build();
        for (Outcome refusal : List.of(new Outcome.ServerError(500), new Outcome.RateLimited(Duration.ofMinutes(5)),
                new Outcome.RateLimited(Duration.ofMinutes(5), true), new Outcome.QuotaExhausted(402),
                new Outcome.Unauthorized(401))) {
            // Settles of requests admitted before (no take here: each state would refuse the next one).
            assertThat(a.settle("ke1", ke1Limits, gpt4o, KeyRule.of(refusal, 0, oneFailure), false, oneFailure, 0, 0,
                    false).join()).isTrue();
        }
        assertThat(b.tryTake("ke1", ke1Limits, 0, gpt4o, Duration.ofMinutes(10)).join().isGranted()).isFalse();

        assertThat(c.enable("ke1", List.of(gpt4o)).join()).hasValue(1);

        assertThat(b.tryTake("ke1", ke1Limits, 0, gpt4o, Duration.ofMinutes(10)).join().isGranted()).isTrue();
        SharedSnapshot s = Replicas.await(a.snapshot("ke1", ke1Limits)).orElseThrow();
        assertThat(s.disabled()).isFalse();
        assertThat(s.quotaProbeAt()).isNull();
        assertThat(s.cooldownUntil()).isNull();
        assertThat(s.circuit()).isEqualTo(CircuitState.CLOSED);
        assertThat(s.enabledCount()).isEqualTo(1);
    }

    @Test
    void spendBeyondTheDailyBudgetExhaustsTheKey() {
        SharedLimits limits = new SharedLimits(null, null, null, null, null, 1.0);
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        assertThat(spend(a, "k14", limits, 0.6)).isTrue();
        assertThat(a.spend("k14", today).join().getAsDouble()).isCloseTo(0.6, within(1e-9));
        assertThat(b.tryTake("k14", limits, 0).join().isGranted()).isTrue();
        assertThat(spend(b, "k14", limits, 0.45)).isTrue();

        Grant denied = c.tryTake("k14", limits, 0).join();
        assertThat(denied.reason()).isEqualTo(Grant.Reason.BUDGET_EXHAUSTED);
        assertThat(denied.retryAfterMillis()).isBetween(1L, 86_400_000L);
        assertThat(a.spend("k14", today).join().getAsDouble()).isCloseTo(1.05, within(1e-9));
        assertThat(a.spend("k14", today.minusDays(1)).join()).hasValue(0.0);
        assertThat(a.snapshot("k14", limits).join().orElseThrow().spendToday()).isCloseTo(1.05, within(1e-9));
        assertThat(replicas.redis().pttl(replicas.prefix + ":{k14}:spend:" + today)).isBetween(1L, 2 * 86_400_000L);
        assertThat(c.tryTake("k14", SharedLimits.unlimited(), 0).join().isGranted()).isTrue();
    }

    @Test
    void everyRedisKeyCarriesTheKeyIdAsAHashTagAndNoSecret() {
        a.tryTake("k15", new SharedLimits(10L, null, 100L, null, 2, 5.0), 10).join();
        outcome(a, "k15", SharedLimits.unlimited(), new Outcome.RateLimited(Duration.ofSeconds(10)), false);
        failure(a, "k15", RULES_3);
        assertThat(replicas.redis().keys(replicas.prefix + ":*"))
                .isNotEmpty()
                .allSatisfy(key -> assertThat(key).startsWith(replicas.prefix + ":{k15}:"));
        assertThat(a.key("k15", "bucket")).isEqualTo(replicas.prefix + ":{k15}:bucket");
        assertThatThrownBy(() -> a.tryTake("a}b", RPM_30, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("key_id: a}b (expected: non-empty, without '{' or '}')");
    }

    @Test
    void scriptsFlushedFromRedisAreSentAgain() {
        assertThat(replicas.redis().scriptFlush()).isEqualTo("OK");
        assertThat(a.tryTake("k16", RPM_30, 0).join().isGranted()).isTrue();
        assertThat(a.snapshot("k16", RPM_30).join()).isPresent();
    }

    @Test
    void decisionsNeverBlockANonBlockingThread() {
        // BlockHound is installed for every test (blockhound-junit-platform): prove it is, then
        // make and settle decisions from Reactor's non-blocking threads.
        StepVerifier.create(Mono.fromCallable(() -> {
                    Thread.sleep(1);
                    return 1;
                }).subscribeOn(Schedulers.parallel()))
                .expectErrorMatches(error -> error.getClass().getSimpleName().equals("BlockingOperationError"))
                .verify(Duration.ofSeconds(10));

        SharedLimits limits = new SharedLimits(100L, null, 10_000L, null, 5, 10.0);
        StepVerifier.create(Mono.defer(() -> Mono.fromFuture(a.tryTake("k17", limits, 100)))
                        .flatMap(grant -> Mono.fromFuture(settleUsage(a, "k17", limits, 100, 50, grant.isGranted())))
                        .flatMap(settled -> Mono.fromFuture(c.snapshot("k17", limits)))
                        .subscribeOn(Schedulers.parallel()))
                .assertNext(snapshot -> assertThat(snapshot.orElseThrow().tpmTokensLeft()).isBetween(9_950.0, 10_000.0))
                .expectComplete()
                .verify(Duration.ofSeconds(10));
    }

    private double tokensLeft(String keyId, SharedLimits limits) {
        return a.snapshot(keyId, limits).join().orElseThrow().tpmTokensLeft();
    }

    /** Thirty tryTakes at once, ten per replica. */
    private List<Grant> burst(String keyId) {
        List<CompletableFuture<Grant>> calls = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            calls.add(List.of(a, b, c).get(i % 3).tryTake(keyId, SharedLimits.unlimited(), 0));
        }
        return calls.stream().map(CompletableFuture::join).toList();
    }

    /** Waits (bounded) until the circuit's cooldown has passed and it is no longer open. */
    private void awaitCircuitCooldown(String keyId) {
        Await.until("the circuit of " + keyId + " to leave OPEN",
                () -> a.snapshot(keyId, SharedLimits.unlimited()).join().orElseThrow().circuit() != CircuitState.OPEN,
                Duration.ofSeconds(10));
    }

    /** Asks until granted, for at most {@code budget}; a denied take takes nothing. */
    private static Grant awaitGrantFor(Duration budget, Supplier<CompletableFuture<Grant>> take) {
        Grant[] granted = {null};
        Await.until("a grant", () -> (granted[0] = take.get().join()).isGranted(), budget);
        return granted[0];
    }

    private static Grant awaitGrant(Supplier<CompletableFuture<Grant>> take) {
        for (int round = 0; round < 1000; round++) {
            Grant grant = take.get().join();
            if (grant.isGranted()) {
                return grant;
            }
        }
        throw new AssertionError("never granted");
    }

    /** Runs {@code step} {@code times} times, one after the other, without blocking. */
    private static CompletableFuture<Void> loop(int times, Supplier<CompletableFuture<Void>> step) {
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        for (int i = 0; i < times; i++) {
            chain = chain.thenCompose(ignored -> step.get());
        }
        return chain;
    }

    private static final Outcome ANSWERED = new Outcome.Answered(200, 0, 0, true, 1_000_000L);

    /** Applies {@link KeyRule}'s effect of {@code outcome} (a lease of no tokens) and waits. */
    private static boolean apply(SharedKeyState replica, String keyId, SharedLimits limits, Outcome outcome,
            boolean probe, HealthConfig rules) {
        return Replicas.await(replica.settle(keyId, limits, KeyRule.of(outcome, 0, rules), probe, rules, 0, 0, true));
    }

    private static boolean outcome(SharedKeyState replica, String keyId, SharedLimits limits, Outcome outcome,
            boolean probe) {
        return apply(replica, keyId, limits, outcome, probe, RULES_3);
    }

    private static void failure(SharedKeyState replica, String keyId, HealthConfig rules) {
        assertThat(apply(replica, keyId, SharedLimits.unlimited(), new Outcome.ServerError(503), false, rules)).isTrue();
    }

    private static boolean spend(SharedKeyState replica, String keyId, SharedLimits limits, double usd) {
        return Replicas.await(replica.settle(keyId, limits, KeyRule.of(ANSWERED, 0, RULES_3), false, RULES_3, usd, 0,
                false));
    }

    /** Settles a lease that reserved {@code reserved} tokens and used {@code actual}. */
    private static CompletableFuture<Boolean> settleUsage(SharedKeyState replica, String keyId, SharedLimits limits,
            long reserved, long actual, boolean release) {
        KeyEffect effect = KeyRule.of(new Outcome.Answered(200, actual, 0, true, 1_000_000L), reserved, RULES_3);
        return replica.settle(keyId, limits, effect, false, RULES_3, 0, actual, release);
    }

    private CircuitState circuit(String keyId) {
        return a.snapshot(keyId, SharedLimits.unlimited()).join().orElseThrow().circuit();
    }
}
