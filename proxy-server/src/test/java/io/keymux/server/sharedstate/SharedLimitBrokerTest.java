package io.keymux.server.sharedstate;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.KeyRule;
import io.keymux.core.select.KeyStatus;
import io.keymux.core.select.Outcome;
import io.keymux.server.KeymuxServer;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.testing.UpstreamStub;
import io.lettuce.core.RedisURI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * Several keymux servers on one Redis and one stub upstream: the limits of a key hold across them,
 * a 429 seen by one cools the key for all, and without Redis each goes on alone on its local share.
 */
@ExtendWith(RedisExtension.class)
class SharedLimitBrokerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String BODY = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    private final List<KeymuxServer> servers = new ArrayList<>();
    private final List<SharedLimitBroker> brokers = new ArrayList<>();
    private UpstreamStub stub;
    private ConnectionProvider pool;

    @BeforeEach
    void start() {
        stub = new UpstreamStub();
        pool = ConnectionProvider.builder("shared-limits-test").maxConnections(500).pendingAcquireMaxCount(-1).build();
    }

    @AfterEach
    void stop() {
        servers.forEach(KeymuxServer::close);
        pool.disposeLater().block(TIMEOUT);
        stub.close();
    }

    @Test
    void threeReplicasTogetherStayWithinAKeysRpm(RedisURI redis) {
        try (Replicas replicas = new Replicas(redis)) {
            KeymuxConfig config = config(LimitsConfig.Backend.REDIS, redis.toURI().toString(), 1.0, 30);
            for (int i = 0; i < 3; i++) {
                startShared(config, replicas.prefix, "replica-" + i);
            }
            brokers.forEach(b -> Replicas.await(b.health().whenUp()));

            long started = System.nanoTime();
            List<Integer> statuses = burst(90);
            double seconds = (System.nanoTime() - started) / 1e9;

            // 30 in the bucket, plus what 30 rpm refills while the burst runs.
            long bound = 30 + (long) Math.ceil(seconds * 30 / 60.0);
            assertThat(stub.recorded().size()).isBetween(30, (int) bound);
            assertThat(statuses.stream().filter(s -> s == 200).count()).isEqualTo(stub.recorded().size());
            assertThat(statuses).containsOnly(200, 429);
        }
    }

    @Test
    void threeLocalReplicasEachSpendTheWholeRpm() {
        KeymuxConfig config = config(LimitsConfig.Backend.LOCAL, "redis://127.0.0.1:1", 1.0, 30);
        for (int i = 0; i < 3; i++) {
            servers.add(KeymuxServer.builder(config).start());
        }
        List<Integer> statuses = burst(90);
        assertThat(stub.recorded().size()).isGreaterThan(30);
        assertThat(statuses.stream().filter(s -> s == 200).count()).isEqualTo(stub.recorded().size());
        assertThat(servers.get(0).redisUp()).isEmpty();
    }

    @Test
    void a429SeenByOneReplicaCoolsTheKeyForAll(RedisURI redis) {
        try (Replicas replicas = new Replicas(redis)) {
            KeymuxConfig config = config(LimitsConfig.Backend.REDIS, redis.toURI().toString(), 1.0, 1000);
            KeymuxServer first = startShared(config, replicas.prefix, "replica-a");
            KeymuxServer second = startShared(config, replicas.prefix, "replica-b");
            brokers.forEach(b -> Replicas.await(b.health().whenUp()));
            stub.enqueue(new UpstreamStub.Reply(429, Map.of("Content-Type", "application/json", "Retry-After", "30"),
                    Mono.just("{\"error\":{\"message\":\"slow down\"}}")));

            assertThat(send(first).block(TIMEOUT)).isEqualTo(429);
            // The settle reaches Redis without the answer waiting for it.
            awaitTrue(() -> replicas.redis().pttl(replicas.prefix + ":{k1}:cooldown") > 0);
            assertThat(send(second).block(TIMEOUT)).isEqualTo(429);

            assertThat(stub.recorded()).hasSize(1);
            // The second replica never tried the key, yet shows the cooldown the first one learned.
            KeyStatus seen = awaitState(brokers.get(1), KeyStatus.State.COOLING_DOWN);
            assertThat(seen.totalRequests()).isZero();
            assertThat(seen.cooldownUntilMillis()).isGreaterThan(System.currentTimeMillis() + 20_000);
        }
    }

    @Test
    void aKeyDisabledThroughOneReplicaAndEnabledThroughAnotherIsBackOnBoth(RedisURI redis) {
        try (Replicas replicas = new Replicas(redis)) {
            KeymuxConfig config = config(LimitsConfig.Backend.REDIS, redis.toURI().toString(), 1.0, 1000);
            KeymuxServer first = startShared(config, replicas.prefix, "replica-a");
            startShared(config, replicas.prefix, "replica-b");
            brokers.forEach(b -> Replicas.await(b.health().whenUp()));
            stub.enqueue(UpstreamStub.Reply.json(401, "{\"error\":{\"message\":\"Incorrect API key provided.\","
                    + "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"));

            assertThat(send(first).block(TIMEOUT)).isEqualTo(502);
            awaitState(brokers.get(1), KeyStatus.State.DISABLED);
            assertThat(awaitState(brokers.get(0), KeyStatus.State.DISABLED).cooldownUntilMillis())
                    .isGreaterThan(System.currentTimeMillis() + 9 * 60_000);

            assertThat(brokers.get(1).enable("k1").join()).isTrue();
            assertThat(brokers.get(1).keyStates().get(0).state()).isEqualTo(KeyStatus.State.ACTIVE);
            // The first replica disabled the key itself; the shared counter tells it the key is back.
            awaitState(brokers.get(0), KeyStatus.State.ACTIVE);
            assertThat(send(first).block(TIMEOUT)).isEqualTo(200);
            assertThat(stub.recorded()).hasSize(2);
            assertThat(brokers.get(0).enable("nope").join()).isFalse();
        }
    }

    @Test
    void withoutRedisEachReplicaUsesItsLocalShareAndSwitchesBack(RedisURI redis) {
        try (Replicas replicas = new Replicas(redis);
                TcpForwarder forwarder = new TcpForwarder(redis.getHost(), redis.getPort()).start(0)) {
            KeymuxConfig config = config(LimitsConfig.Backend.REDIS, "redis://127.0.0.1:" + forwarder.port(), 0.5, 20);
            KeymuxServer server = startShared(config, replicas.prefix, "replica-a");
            SharedLimitBroker broker = brokers.get(0);
            ProxyMetrics metrics = server.metrics();
            Replicas.await(broker.health().whenUp());
            assertThat(metrics.scrape()).contains("keymux_redis_up 1.0");
            assertThat(readyz(server)).isEqualTo("200 {\"status\":\"ready\",\"reasons\":[]}");
            assertThat(server.redisUp().orElseThrow().getAsBoolean()).isTrue();
            assertThat(rpmLimit(broker)).isEqualTo(20);
            assertThat(send(server).block(TIMEOUT)).isEqualTo(200);

            CompletableFuture<Void> down = new CompletableFuture<>();
            broker.health().addListener(up -> {
                if (!up) {
                    down.complete(null);
                }
            });
            forwarder.stop();
            Replicas.await(down);
            assertThat(metrics.scrape()).contains("keymux_redis_up 0.0");
            assertThat(server.redisUp().orElseThrow().getAsBoolean()).isFalse();
            assertThat(readyz(server)).startsWith("200 {\"status\":\"degraded\",\"reasons\":[\"redis unreachable");
            assertThat(rpmLimit(broker)).isEqualTo(10);
            for (int i = 0; i < 3; i++) {
                assertThat(send(server).block(TIMEOUT)).isEqualTo(200);
            }
            assertThat(stub.recorded()).hasSize(4);

            forwarder.start(forwarder.port());
            Replicas.await(broker.health().whenUp());
            assertThat(metrics.scrape()).contains("keymux_redis_up 1.0");
            assertThat(readyz(server)).startsWith("200 {\"status\":\"ready\"");
            assertThat(rpmLimit(broker)).isEqualTo(20);
            // Another replica spends what is left of the shared bucket: this one may not go past it.
            SharedKeyState other = replicas.start("replica-b");
            SharedLimits limits = SharedLimits.of(config.apiKeys().get(0));
            for (int i = 0; i < 40 && Replicas.await(other.tryTake("k1", limits, 0)).isGranted(); i++) {
                Replicas.await(other.settle("k1", limits, KeyRule.of(new Outcome.Answered(200, 0, 0, true, 0), 0,
                        HealthConfig.defaults()), false, HealthConfig.defaults(), 0, 0, true));
            }
            assertThat(send(server).block(TIMEOUT)).isEqualTo(429);
            assertThat(stub.recorded()).hasSize(4);
        }
    }

    @Test
    void aKeyRedisRefusesIsSkippedForAnotherAndAllRefusedEndsAtMaxWait(RedisURI redis) {
        try (Replicas replicas = new Replicas(redis)) {
            KeymuxConfig config = config(LimitsConfig.Backend.REDIS, redis.toURI().toString(), 1.0, 1000,
                    Duration.ofMillis(300), TestConfigs.POOL_KEY_1, TestConfigs.POOL_KEY_2);
            KeymuxServer server = startShared(config, replicas.prefix, "replica-a");
            Replicas.await(brokers.get(0).whenRedisUp());
            SharedKeyState other = replicas.start("replica-b");
            coolDownForAMinute(other, "k1");

            for (int i = 0; i < 4; i++) {
                assertThat(send(server).block(TIMEOUT)).isEqualTo(200);
            }
            assertThat(stub.recorded()).hasSize(4)
                    .allSatisfy(r -> assertThat(r.headers().get("Authorization")).isEqualTo("Bearer " + TestConfigs.POOL_KEY_2));
            assertThat(brokers.get(0).keyStates().get(0).totalRequests()).isZero();

            coolDownForAMinute(other, "k2");
            assertThat(send(server).block(TIMEOUT)).isEqualTo(429);
            assertThat(stub.recorded()).hasSize(4);
        }
    }

    @Test
    void localShareScalesEveryLimitDownToAtLeastOne() {
        KeymuxConfig config = config(LimitsConfig.Backend.REDIS, "redis://127.0.0.1:1", 0.25, 30);
        ApiKeyConfig key = config.apiKeys().get(0);
        ApiKeyConfig limited = key.toBuilder().maxRpm(30L).maxTpm(1000L).rpmBurst(2L).tpmBurst(3000L)
                .maxConcurrent(3).priority(0).weight(1).costPerToken(null).costPerInputToken(null)
                .costPerOutputToken(null).dailyBudgetUsd(10.0).build();
        KeymuxConfig scaled = SharedLimitBroker.scaled(withKeys(config, List.of(limited)), 0.25);
        ApiKeyConfig s = scaled.apiKeys().get(0);
        assertThat(List.of(s.maxRpm(), s.maxTpm(), s.rpmBurst(), s.tpmBurst())).containsExactly(7L, 250L, 1L, 750L);
        assertThat(s.maxConcurrent()).isEqualTo(1);
        assertThat(s.dailyBudgetUsd()).isEqualTo(2.5);
        assertThat(SharedLimitBroker.scaled(config, 1.0)).isSameAs(config);
    }

    // ---------------------------------------------------------------- helpers

    /** Polls {@code condition} every 20 ms for at most 30 s. */
    static void awaitTrue(java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within 30 s").isLessThan(deadline);
            Replicas.await(CompletableFuture.runAsync(() -> { },
                    CompletableFuture.delayedExecutor(20, java.util.concurrent.TimeUnit.MILLISECONDS)));
        }
    }

    /** The broker's first key once its shared view shows {@code state} (polled, at most 30 s). */
    static KeyStatus awaitState(SharedLimitBroker broker, KeyStatus.State state) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        KeyStatus last = broker.keyStates().get(0);
        while (last.state() != state && System.nanoTime() < deadline) {
            Replicas.await(CompletableFuture.runAsync(() -> { },
                    CompletableFuture.delayedExecutor(50, java.util.concurrent.TimeUnit.MILLISECONDS)));
            last = broker.keyStates().get(0);
        }
        assertThat(last.state()).isEqualTo(state);
        return last;
    }

    /** What another replica's 429 with {@code Retry-After: 60} does to the shared state. */
    private static void coolDownForAMinute(SharedKeyState other, String keyId) {
        HealthConfig rules = HealthConfig.defaults();
        Replicas.await(other.settle(keyId, SharedLimits.unlimited(),
                KeyRule.of(new Outcome.RateLimited(Duration.ofSeconds(60)), 0, rules), false, rules, 0, 0, false));
    }

    private KeymuxServer startShared(KeymuxConfig config, String prefix, String replicaId) {
        SharedLimitBroker.Settings settings = SharedLimitBroker.Settings.defaults().with(prefix, replicaId)
                // A busy test machine: a slow answer must not read as "Redis down".
                .withTiming(Duration.ofSeconds(2), Duration.ofMillis(20), Duration.ofMillis(200));
        KeymuxServer server = KeymuxServer.builder(config).broker((cfg, time) -> {
            SharedLimitBroker broker = new SharedLimitBroker(cfg, time, settings);
            brokers.add(broker);
            return broker;
        }).start();
        servers.add(server);
        return server;
    }

    /** {@code n} requests spread evenly over the servers, all at once; their statuses. */
    private List<Integer> burst(int n) {
        return Flux.range(0, n)
                .flatMap(i -> send(servers.get(i % servers.size())), n)
                .collectList()
                .block(TIMEOUT);
    }

    private Mono<Integer> send(KeymuxServer server) {
        return HttpClient.create(pool)
                .baseUrl("http://127.0.0.1:" + server.proxyPort())
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post()
                .uri("/v1/chat/completions")
                .send((req, out) -> out.sendString(Mono.just(BODY)))
                .responseSingle((res, body) -> body.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                        .map(ignored -> res.status().code()));
    }

    private static long rpmLimit(SharedLimitBroker broker) {
        Long rpm = broker.keyStates().get(0).limits().rpm();
        return rpm == null ? -1 : rpm;
    }

    /** One key {@code k1} with {@code rpm}; no waiting: a request the limits refuse gets its 429 at once. */
    private KeymuxConfig config(LimitsConfig.Backend backend, String uri, double localShare, long rpm) {
        return config(backend, uri, localShare, rpm, Duration.ZERO, TestConfigs.POOL_KEY_1);
    }

    /** Keys {@code k1}, {@code k2}, ... with {@code rpm} each and these secrets. */
    private KeymuxConfig config(LimitsConfig.Backend backend, String uri, double localShare, long rpm,
            Duration maxWait, String... secrets) {
        TestConfigs config = TestConfigs.upstream(stub.baseUrl())
                .task(TestConfigs.TASK, t -> t.maxWait(maxWait)).defaultTask(TestConfigs.TASK)
                .config(c -> c.limits(new LimitsConfig(backend,
                        LimitsConfig.RedisConfig.builder().uri(uri).localShare(localShare).build())));
        for (int i = 0; i < secrets.length; i++) {
            config.key(ApiKeyConfig.builder("k" + (i + 1), Secret.of(secrets[i])).upstream(TestConfigs.UPSTREAM)
                    .taskTypes("*").maxRpm(rpm));
        }
        return config.build();
    }

    private static KeymuxConfig withKeys(KeymuxConfig c, List<ApiKeyConfig> keys) {
        return c.toBuilder().apiKeys(keys).build();
    }

    /** {@code STATUS BODY} of the admin port's /readyz. */
    private static String readyz(KeymuxServer server) {
        return reactor.netty.http.client.HttpClient.create()
                .get()
                .uri("http://127.0.0.1:" + server.adminPort() + "/readyz")
                .responseSingle((response, body) -> body.asString().defaultIfEmpty("")
                        .map(text -> response.status().code() + " " + text))
                .block(TIMEOUT);
    }
}
