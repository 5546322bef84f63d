package io.keymux.server.sharedstate;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.KeyRule;
import io.keymux.core.select.KeyStatus;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.lettuce.core.RedisURI;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of {@link KeyRule}: the same outcome sequences fed to the local broker (a fake clock)
 * and to the shared state on a real Redis end in the same key states after every step (active,
 * cooling down, circuit open, disabled, quota exhausted), and leave the same number of requests in the key's RPM
 * bucket. One rule, two appliers: if either drifts, a sequence here tells which step.
 */
@ExtendWith(RedisExtension.class)
class KeyRuleContractTest {
    /** Longer than the circuit cooldown of the config below. */
    private static final Duration ELAPSE = Duration.ofMillis(400);
    private static final int BURST = 5;

    @TempDir
    Path dir;

    private Replicas replicas;
    private SharedKeyState shared;

    @BeforeEach
    void start(RedisURI uri) {
        replicas = new Replicas(uri);
        shared = replicas.start("contract");
    }

    @AfterEach
    void stop() {
        replicas.close();
    }

    /** One step of a sequence. */
    sealed interface Step {}

    /** Takes the key for the lease named {@code lease}. */
    record Take(String lease) implements Step {}

    /** Settles that lease with {@code outcome}. */
    record Settle(String lease, Outcome outcome) implements Step {}

    /** Lets the circuit cooldown pass. */
    record Elapse() implements Step {}

    private static Take take(String lease) {
        return new Take(lease);
    }

    private static Settle settle(String lease, Outcome outcome) {
        return new Settle(lease, outcome);
    }

    private static final Outcome OK = new Outcome.Answered(200, 0, 0, true, 1_000_000L);
    private static final Outcome FIVE_XX = new Outcome.ServerError(503);

    static Stream<Arguments> sequences() {
        return Stream.of(
                Arguments.of("successes", List.of(take("a"), settle("a", OK), take("b"), settle("b", OK))),
                Arguments.of("429 with a reset time",
                        List.of(take("a"), settle("a", new Outcome.RateLimited(Duration.ofSeconds(50))))),
                Arguments.of("429 without a reset time", List.of(take("a"), settle("a", new Outcome.RateLimited(null)))),
                Arguments.of("failures open the circuit, the probe's success closes it",
                        List.of(take("a"), settle("a", FIVE_XX), take("b"), settle("b", new Outcome.Timeout()),
                                new Elapse(), take("probe"), settle("probe", OK))),
                Arguments.of("the probe's failure reopens it",
                        List.of(take("a"), settle("a", new Outcome.ConnectFailure()), take("b"), settle("b", FIVE_XX),
                                new Elapse(), take("probe"), settle("probe", FIVE_XX))),
                Arguments.of("a success resets the failure count",
                        List.of(take("a"), settle("a", FIVE_XX), take("b"), settle("b", OK), take("c"),
                                settle("c", FIVE_XX))),
                Arguments.of("only the probe's success closes the circuit",
                        List.of(take("a"), take("b"), take("c"), settle("a", FIVE_XX), settle("b", FIVE_XX),
                                new Elapse(), take("probe"), settle("c", OK), settle("probe", FIVE_XX))),
                Arguments.of("a probe that answers 429 proves nothing",
                        List.of(take("a"), settle("a", FIVE_XX), take("b"), settle("b", FIVE_XX), new Elapse(),
                                take("probe"), settle("probe", new Outcome.RateLimited(Duration.ofSeconds(30))))),
                Arguments.of("401 disables", List.of(take("a"), settle("a", new Outcome.Unauthorized(401)))),
                Arguments.of("an unused lease gives its request back",
                        List.of(take("a"), settle("a", new Outcome.Unused()), take("b"),
                                settle("b", new Outcome.Unused()))),
                Arguments.of("a cancelled request keeps its request spent",
                        List.of(take("a"), settle("a", new Outcome.Cancelled()))),
                Arguments.of("402 makes the key quota_exhausted",
                        List.of(take("a"), settle("a", new Outcome.QuotaExhausted(402)))),
                Arguments.of("insufficient_quota, then the probe is answered",
                        List.of(take("a"), settle("a", new Outcome.QuotaExhausted(429)), new Elapse(), take("probe"),
                                settle("probe", OK))),
                Arguments.of("insufficient_quota, then the probe is out of quota again",
                        List.of(take("a"), settle("a", new Outcome.QuotaExhausted(429)), new Elapse(), take("probe"),
                                settle("probe", new Outcome.QuotaExhausted(429)))),
                Arguments.of("a probe that is rate limited restores the account",
                        List.of(take("a"), settle("a", new Outcome.QuotaExhausted(402)), new Elapse(), take("probe"),
                                settle("probe", new Outcome.RateLimited(Duration.ofSeconds(30))))),
                Arguments.of("an overload leaves the key's own state alone",
                        List.of(take("a"), settle("a", new Outcome.Overloaded(529, null)), new Elapse())),
                Arguments.of("a 429 naming the model is the key's without a models bucket",
                        List.of(take("a"), settle("a", new Outcome.RateLimited(Duration.ofSeconds(30), true)))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sequences")
    void theLocalEngineAndTheSharedStateAgreeAfterEveryStep(String name, List<Step> steps) throws IOException {
        KeymuxConfig config = config();
        HealthConfig rules = config.tasks().get(0).health();
        FakeTime time = new FakeTime();
        String keyId = "c" + Math.abs(name.hashCode());
        SharedLimits limits = new SharedLimits(1L, (long) BURST, null, null, null, null, "fp");
        KeyRequest request = new KeyRequest("chat", "app", 0, Set.of());
        try (KeyBroker local = KeyBroker.create(config, time)) {
            Map<String, Lease> localLeases = new HashMap<>();
            Map<String, Grant> sharedGrants = new HashMap<>();
            List<String> trace = new ArrayList<>();
            for (Step step : steps) {
                trace.add(step.toString());
                if (step instanceof Take t) {
                    Admission admission = local.acquire(request).join();
                    Grant grant = Replicas.await(shared.tryTake(keyId, limits, 0));
                    assertThat(grant.isGranted()).as("granted, after %s", trace).isEqualTo(admission instanceof Lease);
                    if (admission instanceof Lease lease) {
                        localLeases.put(t.lease(), lease);
                        sharedGrants.put(t.lease(), grant);
                    }
                } else if (step instanceof Settle s) {
                    localLeases.remove(s.lease()).settle(s.outcome());
                    Grant grant = sharedGrants.remove(s.lease());
                    assertThat(Replicas.await(shared.settle(keyId, limits, KeyRule.of(s.outcome(), 0, rules),
                            grant.probe(), rules, 0, 0, true))).isTrue();
                } else {
                    time.advance(ELAPSE);
                    awaitRedisTimePast(keyId, limits, ELAPSE);
                }
                KeyStatus.State localState = local.keyStates().get(0).state();
                assertThat(sharedState(keyId, limits)).as("state after %s", trace).isEqualTo(localState);
            }
            // What is left in the RPM bucket: the same number of takes succeed on each.
            int localLeft = 0;
            while (localLeft <= BURST && local.acquire(request).join() instanceof Lease) {
                localLeft++;
            }
            int sharedLeft = 0;
            while (sharedLeft <= BURST && Replicas.await(shared.tryTake(keyId, limits, 0)).isGranted()) {
                sharedLeft++;
            }
            assertThat(sharedLeft).as("requests left after %s", trace).isEqualTo(localLeft);
        }
    }

    private KeyStatus.State sharedState(String keyId, SharedLimits limits) {
        SharedSnapshot s = Replicas.await(shared.snapshot(keyId, limits)).orElseThrow();
        if (s.disabled()) {
            return KeyStatus.State.DISABLED;
        }
        if (s.quotaProbeAt() != null) {
            return KeyStatus.State.QUOTA_EXHAUSTED;
        }
        if (s.circuit() == CircuitState.OPEN || (s.circuit() == CircuitState.HALF_OPEN && s.probeInFlight())) {
            return KeyStatus.State.CIRCUIT_OPEN;
        }
        if (s.cooldownUntil() != null) {
            return KeyStatus.State.COOLING_DOWN;
        }
        return KeyStatus.State.ACTIVE;
    }

    /** Polls until Redis' clock is {@code d} past its value now (Redis keeps its own time). */
    private void awaitRedisTimePast(String keyId, SharedLimits limits, Duration d) {
        long start = Replicas.await(shared.snapshot(keyId, limits)).orElseThrow().redisTime().toEpochMilli();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (Replicas.await(shared.snapshot(keyId, limits)).orElseThrow().redisTime().toEpochMilli() - start
                < d.toMillis()) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Replicas.await(CompletableFuture.runAsync(() -> { },
                    CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS)));
        }
    }

    /**
     * One key with a 5-request bucket refilling 1 per minute; 2 failures open for 300 ms; a quota
     * probe every 300 ms; an overload backs off for 300 ms.
     */
    private KeymuxConfig config() throws IOException {
        return TestConfigs.yaml(dir, """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1 }
                health: { failure_threshold: 2, circuit_cooldown: 300ms, rate_limit_cooldown: 40s, quota_probe: 300ms,
                          overload_backoff: 300ms }
                upstreams:
                  stub: { base_url: "http://127.0.0.1:1", auth: bearer }
                default_upstream: stub
                default_task: chat
                tasks:
                  - { name: chat, max_wait: 0s }
                api_keys:
                  - { key_id: k1, api_key: sk-contract, task_types: [chat], max_rpm: 1, rpm_burst: %d }
                clients:
                  - { name: app, key: ck-contract }
                """.formatted(BURST), Map.of());
    }

    /** A clock that moves only when told. */
    private static final class FakeTime implements TimeSource {
        private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
        private final long epochMillis = System.currentTimeMillis();

        void advance(Duration d) {
            nanos.addAndGet(d.toNanos());
        }

        @Override
        public long nanoTime() {
            return nanos.get();
        }

        @Override
        public long currentTimeMillis() {
            return epochMillis + nanos.get() / 1_000_000L;
        }
    }
}
