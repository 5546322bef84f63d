package io.keymux.server.sharedstate;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.keymux.config.model.HealthConfig;
import io.keymux.core.select.KeyRule;
import io.keymux.core.select.Outcome;
import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpServer;

/** {@link RedisHealth}: DOWN at once when Redis does not answer, logged once, UP again when it returns. */
@ExtendWith(RedisExtension.class)
class RedisHealthTest {
    private static final SharedLimits LIMITS = new SharedLimits(1000L, null, 100_000L, null, 10, 100.0);

    private final Logger healthLogger = (Logger) LoggerFactory.getLogger(RedisHealth.class);
    private final Capture logs = new Capture();
    private Replicas replicas;
    private ch.qos.logback.classic.Level previousLevel;

    @BeforeEach
    void start(RedisURI uri) {
        replicas = new Replicas(uri);
        logs.start();
        // logback-test.xml keeps the root at WARN; the UP transitions these tests count are INFO.
        previousLevel = healthLogger.getLevel();
        healthLogger.setLevel(ch.qos.logback.classic.Level.INFO);
        healthLogger.addAppender(logs);
    }

    @AfterEach
    void stop() {
        healthLogger.detachAppender(logs);
        healthLogger.setLevel(previousLevel);
        replicas.close();
    }

    @Test
    void everyCallCompletesAtOnceAsUnavailableWhenNothingListens() throws InterruptedException {
        RedisHealth health = replicas.startHealth(RedisURI.create("127.0.0.1", 1), RedisHealth.DEFAULT_COMMAND_TIMEOUT);
        SharedKeyState state = SharedKeyState.create(health, replicas.prefix, "r1", SharedKeyState.DEFAULT_LEASE_TTL);

        CompletableFuture<Grant> grant = state.tryTake("k1", LIMITS, 10);
        assertThat(grant).isCompletedWithValue(Grant.unavailable());
        HealthConfig rules = HealthConfig.defaults();
        assertThat(state.settle("k1", LIMITS, KeyRule.of(new Outcome.ServerError(503), 10, rules), false, rules, 0, 0,
                true)).isCompletedWithValue(false);
        assertThat(state.heartbeat().join()).isEmpty();
        assertThat(state.snapshot("k1", LIMITS).join()).isEmpty();
        assertThat(health.up()).isFalse();
        assertThat(health.whenUp()).isNotDone();

        assertThat(logs.awaitWarn("127.0.0.1:1")).isTrue();
        assertThat(logs.warnings("127.0.0.1:1")).singleElement().asString()
                .contains("Redis at 127.0.0.1:1 is unreachable").contains("using local limits");
    }

    @Test
    void aCommandThatFailsTurnsDown(RedisURI redis) throws InterruptedException {
        try (TcpForwarder forwarder = new TcpForwarder(redis.getHost(), redis.getPort()).start(0)) {
            RedisHealth health = replicas.startHealth(RedisURI.create("127.0.0.1", forwarder.port()),
                    RedisHealth.DEFAULT_COMMAND_TIMEOUT);
            SharedKeyState state = SharedKeyState.create(health, replicas.prefix, "r1", SharedKeyState.DEFAULT_LEASE_TTL);
            Replicas.await(health);
            forwarder.stop();
            // Whether the command meets the closed connection or times out, the answer is "unavailable".
            assertThat(state.tryTake("k1", LIMITS, 10).join().isUnavailable()).isTrue();
            assertThat(health.up()).isFalse();
            // The WARN follows the state change on a Lettuce thread.
            assertThat(logs.awaitWarn("127.0.0.1:" + forwarder.port())).isTrue();
            assertThat(logs.warnings("127.0.0.1:" + forwarder.port())).hasSize(1);
        }
    }

    @Test
    void aServerThatHangsUpIsRetriedWithBackoffAndLoggedOnlyOnce() throws InterruptedException {
        CountDownLatch attempts = new CountDownLatch(5);
        DisposableServer hangingUp = TcpServer.create().host("127.0.0.1").port(0)
                .handle((in, out) -> {
                    attempts.countDown();
                    return Mono.empty();
                })
                .bindNow();
        try {
            String where = "127.0.0.1:" + hangingUp.port();
            RedisHealth health = replicas.startHealth(RedisURI.create("127.0.0.1", hangingUp.port()),
                    RedisHealth.DEFAULT_COMMAND_TIMEOUT);

            assertThat(attempts.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(health.up()).isFalse();
            assertThat(logs.warnings(where)).hasSize(1);
            assertThat(logs.infos(where)).isEmpty();
        } finally {
            hangingUp.disposeNow();
        }
    }

    @Test
    void redisGoingAwayTurnsDownAndItsReturnTurnsUpAndGrantsResume(RedisURI redis) throws InterruptedException {
        try (TcpForwarder forwarder = new TcpForwarder(redis.getHost(), redis.getPort()).start(0)) {
            String where = "127.0.0.1:" + forwarder.port();
            RedisHealth health = replicas.startHealth(RedisURI.create("127.0.0.1", forwarder.port()),
                    RedisHealth.DEFAULT_COMMAND_TIMEOUT);
            BlockingQueue<Boolean> transitions = new LinkedBlockingQueue<>();
            health.addListener(transitions::add);
            SharedKeyState state = SharedKeyState.create(health, replicas.prefix, "r1", SharedKeyState.DEFAULT_LEASE_TTL);
            Replicas.await(health);
            // The first UP may or may not have been heard, depending on when the listener came.
            transitions.clear();
            assertThat(state.tryTake("k1", LIMITS, 10).join().isGranted()).isTrue();

            forwarder.stop();
            // Noticed from the closed connection alone, before any command fails.
            assertThat(transitions.poll(10, TimeUnit.SECONDS)).isFalse();
            assertThat(health.up()).isFalse();
            assertThat(state.tryTake("k1", LIMITS, 10)).isCompletedWithValue(Grant.unavailable());

            forwarder.start(forwarder.port());
            Replicas.await(health.whenUp());
            assertThat(transitions.poll(10, TimeUnit.SECONDS)).isTrue();
            assertThat(health.up()).isTrue();
            assertThat(state.tryTake("k1", LIMITS, 10).join().isGranted()).isTrue();
            assertThat(transitions).isEmpty();

            assertThat(logs.warnings(where)).hasSize(1);
            assertThat(logs.infos(where)).hasSize(2)
                    .last().asString().contains("Redis at " + where + " is reachable again");
        }
    }

    /**
     * An error reply (here WRONGTYPE from a script) is an answer, not an outage: Redis stays up,
     * nobody is told it went down, and the decision is "slow" (asked again, never granted locally).
     */
    @Test
    void anErrorReplyIsABugNotAnOutage(RedisURI redis) {
        RedisHealth health = replicas.startHealth(redis);
        BlockingQueue<Boolean> transitions = new LinkedBlockingQueue<>();
        SharedKeyState state = SharedKeyState.create(health, replicas.prefix, "r1", SharedKeyState.DEFAULT_LEASE_TTL);
        Replicas.await(health);
        health.addListener(transitions::add);
        replicas.redis().set(replicas.prefix + ":{broken}:bucket", "not a hash");
        Grant grant = state.tryTake("broken", new SharedLimits(10L, null, null, null, null, null), 0).join();

        assertThat(health.up()).isTrue();
        assertThat(grant.isSlow()).isTrue();
        assertThat(state.tryTake("fine", new SharedLimits(10L, null, null, null, null, null), 0).join().isGranted())
                .isTrue();
        assertThat(transitions).isEmpty();
        assertThat(health.up()).isTrue();
    }

    @Test
    void onlyTimeoutsAndLostConnectionsCountTowardsDown() {
        assertThat(RedisHealth.classify(new io.lettuce.core.RedisCommandTimeoutException("slow")))
                .isEqualTo(RedisHealth.Failure.TIMEOUT);
        assertThat(RedisHealth.classify(new java.util.concurrent.CompletionException(
                new io.lettuce.core.RedisCommandExecutionException("ERR script"))))
                .isEqualTo(RedisHealth.Failure.REPLY);
        assertThat(RedisHealth.classify(new io.lettuce.core.RedisConnectionException("closed")))
                .isEqualTo(RedisHealth.Failure.CONNECTION);
    }

    /** Collects RedisHealth's log lines; thread-safe because Lettuce threads log too. */
    private static final class Capture extends AppenderBase<ILoggingEvent> {
        private final Queue<ILoggingEvent> events = new ConcurrentLinkedQueue<>();
        private final BlockingQueue<ILoggingEvent> warnings = new LinkedBlockingQueue<>();

        @Override
        protected void append(ILoggingEvent event) {
            events.add(event);
            if (event.getLevel() == Level.WARN) {
                warnings.add(event);
            }
        }

        boolean awaitWarn(String where) throws InterruptedException {
            for (ILoggingEvent event; (event = warnings.poll(10, TimeUnit.SECONDS)) != null; ) {
                if (event.getFormattedMessage().contains(where)) {
                    return true;
                }
            }
            return false;
        }

        List<String> warnings(String where) {
            return messages(Level.WARN, where);
        }

        List<String> infos(String where) {
            return messages(Level.INFO, where);
        }

        private List<String> messages(Level level, String where) {
            return events.stream().filter(e -> e.getLevel() == level)
                    .map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains(where + " ")).toList();
        }
    }
}
