package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.testing.TestConfigs;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Rejection;
import io.keymux.server.guard.QueueLimitedBroker;
import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The per-task bound on requests waiting for a key: {@value QueueLimitedBroker#CAPACITY_FACTOR} ×
 * the keys' {@code max_concurrent}, else {@value QueueLimitedBroker#MAX_PENDING_PER_TASK}; beyond it
 * a 429-mapped rejection at once, and every way a wait ends gives its place back.
 */
class QueueLimitedBrokerTest {

    /** A broker whose every acquire waits until the test completes it. */
    static final class WaitingBroker implements KeyBroker {
        final List<CompletableFuture<Admission>> waiting = new CopyOnWriteArrayList<>();
        @Nullable KeymuxConfig reconfigured;

        @Override
        public CompletableFuture<Admission> acquire(KeyRequest request) {
            CompletableFuture<Admission> f = new CompletableFuture<>();
            waiting.add(f);
            return f;
        }

        @Override
        public void reconfigure(KeymuxConfig next) {
            reconfigured = next;
        }

        @Override
        public void close() {}
    }

    private static KeymuxConfig withConcurrency(@Nullable Integer maxConcurrent) {
        return TestConfigs.upstream(URI.create("http://127.0.0.1:1"))
                .key(ApiKeyConfig.builder("k1", Secret.of(TestConfigs.POOL_KEY_1)).upstream(TestConfigs.UPSTREAM)
                        .taskTypes("chat").maxConcurrent(maxConcurrent))
                .build();
    }

    private static final KeyRequest CHAT = new KeyRequest("chat", "app", 10, Set.of());

    @Test
    void theBoundIsTenTimesTheKeysConcurrencyOrTheFixedMaximum() {
        WaitingBroker inner = new WaitingBroker();
        assertThat(new QueueLimitedBroker(inner, withConcurrency(2)).limit("chat")).isEqualTo(20);
        assertThat(new QueueLimitedBroker(inner, withConcurrency(null)).limit("chat"))
                .isEqualTo(QueueLimitedBroker.MAX_PENDING_PER_TASK);
        assertThat(new QueueLimitedBroker(inner, withConcurrency(5_000)).limit("chat"))
                .isEqualTo(QueueLimitedBroker.MAX_PENDING_PER_TASK);
    }

    @Test
    void beyondTheBoundARequestIsRefusedAtOnceAndAFinishedWaitGivesItsPlaceBack() {
        WaitingBroker inner = new WaitingBroker();
        QueueLimitedBroker broker = new QueueLimitedBroker(inner, withConcurrency(1));
        for (int i = 0; i < 10; i++) {
            assertThat(broker.acquire(CHAT)).isNotDone();
        }

        CompletableFuture<Admission> refused = broker.acquire(CHAT);

        assertThat(refused).isCompleted();
        Rejection rejection = (Rejection) refused.join();
        assertThat(rejection.reason()).isEqualTo(Rejection.Reason.RATE_LIMITED);
        assertThat(rejection.message()).contains("task 'chat'").contains("(10)");
        assertThat(inner.waiting).hasSize(10);

        inner.waiting.get(0).cancel(false); // a client that left
        assertThat(broker.acquire(CHAT)).isNotDone();
        inner.waiting.get(1).complete(rejection); // a max_wait expiry
        assertThat(broker.acquire(CHAT)).isNotDone();
        assertThat(broker.acquire(CHAT)).isCompleted();
    }

    @Test
    void aReloadChangesTheBoundAndReachesTheInnerBroker() {
        WaitingBroker inner = new WaitingBroker();
        QueueLimitedBroker broker = new QueueLimitedBroker(inner, withConcurrency(1));
        KeymuxConfig next = withConcurrency(3);

        broker.reconfigure(next);

        assertThat(broker.limit("chat")).isEqualTo(30);
        assertThat(inner.reconfigured).isSameAs(next);
    }
}
