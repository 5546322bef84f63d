package io.keymux.core.select;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.TaskConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A broker on a fake clock and a manual timer, with shortcuts for tests. Configurations come from
 * {@code TestConfigs.empty()} with the two builders below, which are the model's own with these
 * tests' starting points.
 */
final class BrokerFixture implements AutoCloseable {
    /** The one secret of every key unless a test rotates one: the broker tests never send it. */
    static final Secret SECRET = Secret.of("sk-test-secret");

    final FakeTime time = new FakeTime();
    final ManualTimer timer = new ManualTimer(time);
    final BrokerEngine broker;

    BrokerFixture(KeymuxConfig config) {
        broker = new BrokerEngine(config, time, timer);
    }

    /** A task that does not queue ({@code max_wait: 0}) unless the test says how long it may. */
    static TaskConfig.Builder task(String name) {
        return TaskConfig.builder(name).maxWait(Duration.ZERO);
    }

    /** A key serving {@code tasks}, every limit unset, on the default upstream ({@code openai}). */
    static ApiKeyConfig.Builder key(String keyId, String... tasks) {
        return ApiKeyConfig.builder(keyId, SECRET).taskTypes(tasks);
    }

    CompletableFuture<Admission> acquire(String task, long tokens, String... excluded) {
        return broker.acquire(new KeyRequest(task, "client-a", tokens, Set.of(excluded)));
    }

    /** Acquires and expects an immediate lease. */
    Lease lease(String task, long tokens, String... excluded) {
        CompletableFuture<Admission> f = acquire(task, tokens, excluded);
        assertThat(f).isDone();
        Admission a = f.join();
        assertThat(a).isInstanceOf(Lease.class);
        return (Lease) a;
    }

    Lease lease(String task) {
        return lease(task, 1);
    }

    /** Acquires for a request naming {@code model} and expects an immediate lease. */
    Lease leaseFor(String task, String model) {
        CompletableFuture<Admission> f = broker.acquire(new KeyRequest(task, "client-a", 1, Set.of(), model));
        assertThat(f).isDone();
        Admission a = f.join();
        assertThat(a).isInstanceOf(Lease.class);
        return (Lease) a;
    }

    /** Key ids of {@code n} leases for {@code model}, each settled as answered. */
    List<String> picksFor(String task, String model, int n) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Lease l = leaseFor(task, model);
            ids.add(l.key().keyId());
            l.settle(new Outcome.Answered(200, 0, 0, false, 1_000_000));
        }
        return ids;
    }

    /** Acquires and expects an immediate rejection. */
    Rejection rejection(String task, long tokens, String... excluded) {
        CompletableFuture<Admission> f = acquire(task, tokens, excluded);
        assertThat(f).isDone();
        Admission a = f.join();
        assertThat(a).isInstanceOf(Rejection.class);
        return (Rejection) a;
    }

    /** Key ids of {@code n} leases taken and settled one after another as answered. */
    List<String> picks(String task, int n) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Lease l = lease(task);
            ids.add(l.key().keyId());
            l.settle(new Outcome.Answered(200, 0, 0, false, 1_000_000));
        }
        return ids;
    }

    KeyStatus status(String keyId) {
        return broker.keyStates().stream().filter(s -> s.keyId().equals(keyId)).findFirst().orElseThrow();
    }

    @Override
    public void close() {
        broker.close();
    }
}
