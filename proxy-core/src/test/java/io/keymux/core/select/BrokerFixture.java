package io.keymux.core.select;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** A broker on a fake clock and a manual timer, with shortcuts for tests. */
final class BrokerFixture implements AutoCloseable {
    final FakeTime time = new FakeTime();
    final ManualTimer timer = new ManualTimer(time);
    final BrokerEngine broker;

    BrokerFixture(KeymuxConfig config) {
        broker = new BrokerEngine(config, time, timer);
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
