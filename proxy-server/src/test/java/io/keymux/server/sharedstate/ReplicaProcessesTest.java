package io.keymux.server.sharedstate;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.ServeProcess;
import io.keymux.server.testing.UpstreamStub;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * SPEC.md section 8 with real processes: three {@code keymux serve} JVMs, started cold, on a
 * private {@code redis-server} this test starts on a free port (so it may pause, freeze, kill and
 * restart it), one in-process upstream stub. The JVMs are reused across the cases; each case
 * uses a fresh key id, applied to all three by {@code POST /admin/reload}.
 *
 * <p>The burst is repeated {@code -Dkeymux.bursts=N} times (10 by default).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicaProcessesTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String ADMIN_TOKEN = "admin-token-processes";
    private static final Pattern LISTENING =
            Pattern.compile("keymux listening: proxy on port (\\d+), admin on port (\\d+)");
    private static final String BODY = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final int REPLICAS = 3;

    @TempDir
    static Path dir;

    private final UpstreamStub stub = new UpstreamStub();
    private final ConnectionProvider pool =
            ConnectionProvider.builder("replica-processes").maxConnections(300).pendingAcquireMaxCount(-1).build();
    private final List<Replica> replicas = new ArrayList<>();
    private Process redis;
    private int redisPort;
    private Path config;

    /** One {@code keymux serve} JVM and its output. */
    private static final class Replica {
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();
        int proxyPort;
        int adminPort;

        Replica(Process process) {
            this.process = process;
        }

        boolean logged(String text) {
            return loggedSince(0, text);
        }

        /** Whether a line from the {@code mark}-th on contains {@code text}. */
        boolean loggedSince(int mark, String text) {
            // A snapshot: a subList view of the list the log reader keeps appending to would throw.
            List<String> seen = List.copyOf(lines);
            return seen.subList(Math.min(mark, seen.size()), seen.size()).stream().anyMatch(l -> l.contains(text));
        }
    }

    @BeforeAll
    void start() throws Exception {
        redisPort = ServeProcess.freePort();
        startRedis();
        config = dir.resolve("keymux.yaml");
        writeConfig("warmup", 30, "sk-first");
        for (int i = 0; i < REPLICAS; i++) {
            replicas.add(serve("replica-" + i));
        }
        for (Replica r : replicas) {
            Matcher m = awaitLine(r, LISTENING);
            r.proxyPort = Integer.parseInt(m.group(1));
            r.adminPort = Integer.parseInt(m.group(2));
        }
        // Each replica heartbeats every 5 s: wait until all three see three (local_share: auto = 1/3).
        for (Replica r : replicas) {
            ServeProcess.await("keymux_replicas 3 on " + r.adminPort, () -> metrics(r).contains("keymux_replicas 3.0"));
            ServeProcess.await("keymux_redis_up 1 on " + r.adminPort, () -> metrics(r).contains("keymux_redis_up 1.0"));
            assertThat(admin(r, "/admin/health")).contains("\"replicas\":3");
            assertThat(metrics(r)).contains("keymux_redis_latency_seconds_bucket");
        }
    }

    @AfterAll
    void stop() throws InterruptedException {
        for (Replica r : replicas) {
            // What went wrong, for a failed run: each replica's warnings and errors.
            r.lines.stream().filter(l -> l.contains("WARN") || l.contains("ERROR") || l.contains("Exception"))
                    .limit(40).forEach(l -> System.err.println("[replica " + r.adminPort + "] " + l));
        }
        for (Replica r : replicas) {
            r.process.destroy();
        }
        for (Replica r : replicas) {
            if (!r.process.waitFor(20, TimeUnit.SECONDS)) {
                r.process.destroyForcibly();
            }
        }
        stopRedis();
        pool.disposeLater().block(WAIT);
        stub.close();
    }

    // ---------------------------------------------------------------- the cases

    /** 30 in the bucket plus what 30 rpm refills while the burst runs. */
    private static long bound(long nanos) {
        return 30 + (long) Math.ceil(nanos / 1e9 * 30 / 60.0);
    }

    @Test
    @Order(1)
    void aColdBurstOfNinetyOverThreeReplicasStaysWithinTheLimitEveryTime() throws Exception {
        int repetitions = Integer.getInteger("keymux.bursts", 10);
        for (int rep = 0; rep < repetitions; rep++) {
            reload("burst-" + rep, 30, "sk-first");
            int before = stub.recorded().size();
            long started = System.nanoTime();
            List<Integer> statuses = burst(90);
            long took = System.nanoTime() - started;
            int reached = stub.recorded().size() - before;
            System.err.printf("[bursts] repetition %d: %d of 90 reached the upstream in %d ms (bound %d)%n", rep,
                    reached, took / 1_000_000, bound(took));
            assertThat(reached).as("repetition %d: upstream requests (bound %d)", rep, bound(took))
                    .isBetween(1, (int) bound(took));
            assertThat(statuses).as("repetition %d", rep).isSubsetOf(200, 429);
            assertThat(statuses.stream().filter(s -> s == 200).count()).isEqualTo(reached);
            if (rep == 0) {
                // Every replica shows the key's usage of all three.
                for (Replica r : replicas) {
                    // (Shared takes that ran as their caller timed out count too: at least what reached.)
                    Pattern rpm = Pattern.compile("\"usage\":\\{\"rpm\":(\\d+),");
                    String[] last = {""};
                    try {
                        ServeProcess.await("usage of all replicas on " + r.adminPort, () -> {
                            Matcher m = rpm.matcher(last[0] = admin(r, "/admin/keys"));
                            return m.find() && Integer.parseInt(m.group(1)) >= reached
                                    && Integer.parseInt(m.group(1)) <= bound(took);
                        });
                    } catch (AssertionError e) {
                        throw new AssertionError(e.getMessage() + " (" + reached + " reached): " + last[0], e);
                    }
                }
            }
        }
    }

    @Test
    @Order(2)
    void aSlowRedisDuringTheBurstIsNotTakenForADeadOne() throws Exception {
        // max_wait 3s: a decision Redis does not answer within 500 ms is asked again until then.
        reload("slow", 30, "sk-first", "3s");
        // (A cold first burst may have timed out three times in a row on a busy machine: only what
        // happens from here on counts.)
        List<Integer> marks = replicas.stream().map(r -> r.lines.size()).toList();
        int before = stub.recorded().size();
        long started = System.nanoTime();
        // Redis answers nothing for 800 ms from now: longer than limits.redis.timeout (500 ms),
        // shorter than failure_threshold (3) timeouts one after the other.
        redisCommand("CLIENT", "PAUSE", "800", "ALL");
        List<Integer> statuses = burst(90);
        long took = System.nanoTime() - started;
        int reached = stub.recorded().size() - before;
        assertThat(reached).isBetween(1, (int) bound(took));
        assertThat(statuses).isSubsetOf(200, 429);
        assertThat(statuses.stream().filter(s -> s == 200).count()).isEqualTo(reached);
        for (Replica r : replicas) {
            assertThat(r.loggedSince(marks.get(replicas.indexOf(r)), "is unreachable"))
                    .as("replica on %d switched to local", r.adminPort).isFalse();
            assertThat(metrics(r)).contains("keymux_redis_up 1.0");
        }
        // And a server blocked in DEBUG SLEEP, the same.
        reload("sleepy", 30, "sk-first", "3s");
        before = stub.recorded().size();
        started = System.nanoTime();
        Thread sleeper = new Thread(() -> redisCommand("DEBUG", "SLEEP", "0.8"), "debug-sleep");
        sleeper.start();
        statuses = burst(90);
        took = System.nanoTime() - started;
        sleeper.join(WAIT.toMillis());
        assertThat(stub.recorded().size() - before).isBetween(1, (int) bound(took));
        assertThat(statuses).isSubsetOf(200, 429);
        for (Replica r : replicas) {
            assertThat(r.loggedSince(marks.get(replicas.indexOf(r)), "is unreachable"))
                    .as("replica on %d switched to local", r.adminPort).isFalse();
        }
    }

    /**
     * Frozen Redis (SIGSTOP): once each replica counts it down it takes 1/3 of the key (10 of the
     * 30), so the three together stay within 30 plus what refills during the burst. Slack: 3, one
     * per replica, for a local bucket's refill between the switch and the burst (each replica
     * scales its own bucket; floor(30/3) = 10 exactly, so rounding adds nothing).
     */
    @Test
    @Order(3)
    void aFrozenRedisLeavesEachReplicaItsThirdOfTheLimit() throws Exception {
        reload("frozen", 30, "sk-first");
        List<Integer> marks = replicas.stream().map(r -> r.lines.size()).toList();
        signalRedis("STOP");
        try {
            // Requests (429 after the 500 ms timeout, max_wait 0s) until each replica counts Redis down.
            ServeProcess.await("all replicas count Redis down", () -> {
                Flux.fromIterable(replicas).flatMap(this::send).collectList().block(WAIT);
                return replicas.stream().allMatch(r -> metrics(r).contains("keymux_redis_up 0.0"));
            });
            int before = stub.recorded().size();
            long started = System.nanoTime();
            List<Integer> statuses = burst(90);
            long took = System.nanoTime() - started;
            int reached = stub.recorded().size() - before;
            assertThat(reached).isBetween(1, (int) bound(took) + 3);
            assertThat(statuses).isSubsetOf(200, 429);
            assertThat(replicas).allSatisfy(r ->
                    assertThat(r.loggedSince(marks.get(replicas.indexOf(r)), "local_share=0.333")).isTrue());
        } finally {
            signalRedis("CONT");
        }
        for (Replica r : replicas) {
            ServeProcess.await("Redis up again on " + r.adminPort, () -> metrics(r).contains("keymux_redis_up 1.0"));
        }
    }

    @Test
    @Order(4)
    void redisKilledAndRestartedMidTrafficFailsNoRequest() throws Exception {
        // max_wait 3s: on a loaded machine Redis can be slow (past the 500 ms timeout) just before it is
        // killed, and with max_wait 0s a slow decision rightly answers 429 (slow is not down). With time
        // to ask again, each request outlives the switch to local limits and none may fail.
        reload("steady", 100_000, "sk-first", "3s");
        List<Integer> statuses = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread traffic = new Thread(() -> {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(6);
            while (System.nanoTime() < end) {
                statuses.addAll(burst(6));
            }
        }, "steady-traffic");
        traffic.start();
        ServeProcess.await("traffic flowing", () -> statuses.size() > 12);
        stopRedis();
        ServeProcess.await("traffic while Redis is gone", () -> replicas.stream().allMatch(r -> metrics(r).contains("keymux_redis_up 0.0")));
        startRedis();
        traffic.join(WAIT.toMillis());
        assertThat(statuses).hasSizeGreaterThan(24).containsOnly(200);
        for (Replica r : replicas) {
            ServeProcess.await("Redis up again on " + r.adminPort, () -> metrics(r).contains("keymux_redis_up 1.0"));
        }
    }

    @Test
    @Order(5)
    void a401ThroughOneReplicaThenARotationLeavesTheKeyActiveOnAll() throws Exception {
        reload("rotating", 1000, "sk-refused");
        stub.defaultReply(r -> "Bearer sk-refused".equals(r.headers().get("Authorization"))
                ? UpstreamStub.Reply.json(401, "{\"error\":{\"message\":\"bad key\"}}")
                : UpstreamStub.Reply.json(200, UpstreamStub.CHAT_COMPLETION));
        send(replicas.get(0)).block(WAIT);
        for (Replica r : replicas) {
            ServeProcess.await("disabled shown on " + r.adminPort, () -> keyStatus(r).equals("disabled"));
        }
        reload("rotating", 1000, "sk-rotated");
        for (Replica r : replicas) {
            ServeProcess.await("active shown on " + r.adminPort, () -> keyStatus(r).equals("active"));
            assertThat(send(r).block(WAIT)).isEqualTo(200);
            assertThat(stub.last().headers().get("Authorization")).isEqualTo("Bearer sk-rotated");
        }
    }

    // ---------------------------------------------------------------- helpers

    private void writeConfig(String keyId, long rpm, String secret) throws IOException {
        writeConfig(keyId, rpm, secret, "0s");
    }

    private void writeConfig(String keyId, long rpm, String secret, String maxWait) throws IOException {
        Files.writeString(config, """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1, drain_timeout: 1s }
                admin: { token: %s }
                limits:
                  backend: redis
                  redis: { uri: "redis://127.0.0.1:%d", timeout: 500ms, failure_threshold: 3, local_share: auto }
                upstreams:
                  stub: { base_url: "%s", auth: bearer }
                default_upstream: stub
                default_task: chat
                tasks:
                  - { name: chat, max_wait: %s, max_attempts: 1 }
                api_keys:
                  - { key_id: %s, api_key: "%s", task_types: [chat], max_rpm: %d, rpm_burst: %d }
                clients:
                  - { name: app, key: "%s" }
                """.formatted(ADMIN_TOKEN, redisPort, stub.baseUrl(), maxWait, keyId, secret, rpm, Math.min(rpm, 30),
                TestConfigs.CLIENT_KEY));
    }

    /** Writes the config and has every replica apply it now. */
    private void reload(String keyId, long rpm, String secret) throws IOException {
        reload(keyId, rpm, secret, "0s");
    }

    private void reload(String keyId, long rpm, String secret, String maxWait) throws IOException {
        writeConfig(keyId, rpm, secret, maxWait);
        for (Replica r : replicas) {
            Integer status = HttpClient.create().headers(h -> h.set("Authorization", "Bearer " + ADMIN_TOKEN))
                    .post().uri("http://127.0.0.1:" + r.adminPort + "/admin/reload")
                    .responseSingle((res, body) -> body.then(Mono.just(res.status().code())))
                    .block(WAIT);
            assertThat(status).isEqualTo(200);
        }
        for (Replica r : replicas) {
            ServeProcess.await("key " + keyId + " on " + r.adminPort, () -> admin(r, "/admin/keys").contains("\"" + keyId + "\""));
        }
    }

    private List<Integer> burst(int n) {
        return Flux.range(0, n).flatMap(i -> send(replicas.get(i % replicas.size())), n).collectList().block(WAIT);
    }

    private Mono<Integer> send(Replica r) {
        return HttpClient.create(pool).baseUrl("http://127.0.0.1:" + r.proxyPort)
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send((req, out) -> out.sendString(Mono.just(BODY)))
                .responseSingle((res, body) -> body.asString().defaultIfEmpty("").map(ignored -> res.status().code()));
    }

    private String metrics(Replica r) {
        return HttpClient.create().get().uri("http://127.0.0.1:" + r.adminPort + "/metrics")
                .responseSingle((res, body) -> body.asString()).block(WAIT);
    }

    private String admin(Replica r, String path) {
        return HttpClient.create().headers(h -> h.set("Authorization", "Bearer " + ADMIN_TOKEN))
                .get().uri("http://127.0.0.1:" + r.adminPort + path)
                .responseSingle((res, body) -> body.asString()).block(WAIT);
    }

    private String keyStatus(Replica r) {
        Matcher m = Pattern.compile("\"status\":\"(\\w+)\"").matcher(admin(r, "/admin/keys"));
        return m.find() ? m.group(1) : "";
    }

    private Replica serve(String name) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=logback.xml", "-cp", System.getProperty("java.class.path"),
                "io.keymux.server.cli.KeymuxMain", "serve", "--config", config.toString()))
                .directory(dir.toFile()).redirectErrorStream(true);
        builder.environment().put("POD_NAME", name);
        Replica replica = new Replica(builder.start());
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(replica.process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    replica.lines.add(line);
                }
            } catch (IOException closed) {
                // the process ended
            }
        }, name + "-output");
        reader.setDaemon(true);
        reader.start();
        return replica;
    }

    private Matcher awaitLine(Replica r, Pattern pattern) {
        Matcher[] found = new Matcher[1];
        ServeProcess.await("a line matching " + pattern, () -> {
            for (String line : r.lines) {
                Matcher m = pattern.matcher(line);
                if (m.find()) {
                    found[0] = m;
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    private void startRedis() throws IOException {
        redis = new ProcessBuilder("redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--enable-debug-command", "yes")
                .directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.log").toFile()).start();
        ServeProcess.await("redis-server on " + redisPort, () -> {
            try (Socket s = new Socket("127.0.0.1", redisPort)) {
                return true;
            } catch (IOException notYet) {
                return false;
            }
        });
    }

    private void stopRedis() throws InterruptedException {
        if (redis != null) {
            redis.destroyForcibly();
            redis.waitFor(20, TimeUnit.SECONDS);
        }
    }

    private void signalRedis(String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(redis.pid())).start();
        assertThat(kill.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    /** Sends one command to the private Redis with redis-cli (blocking: test thread only). */
    private void redisCommand(String... args) {
        List<String> command = new ArrayList<>(List.of("redis-cli", "-p", Integer.toString(redisPort)));
        command.addAll(List.of(args));
        try {
            Process cli = new ProcessBuilder(command).redirectErrorStream(true).start();
            assertThat(cli.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).contains("OK");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
