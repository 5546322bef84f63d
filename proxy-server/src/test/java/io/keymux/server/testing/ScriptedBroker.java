package io.keymux.server.testing;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A {@link KeyBroker} whose answers a test scripts, recording every request and every settlement,
 * to check the pipeline keeps the broker contract (one settle per lease, exclusions, rejections).
 */
public final class ScriptedBroker implements KeyBroker {
    private final KeymuxConfig config;
    private final ConcurrentLinkedQueue<Function<KeyRequest, Admission>> script = new ConcurrentLinkedQueue<>();
    public final List<KeyRequest> requests = new CopyOnWriteArrayList<>();
    public final List<RecordingLease> leases = new CopyOnWriteArrayList<>();

    public ScriptedBroker(KeymuxConfig config) {
        this.config = config;
    }

    /** Next acquire leases the key with this id. */
    public ScriptedBroker lease(String keyId) {
        script.add(r -> {
            ApiKeyConfig key = config.apiKeys().stream().filter(k -> k.keyId().equals(keyId)).findFirst().orElseThrow();
            RecordingLease lease = new RecordingLease(key);
            leases.add(lease);
            return lease;
        });
        return this;
    }

    /** Next acquire is rejected. */
    public ScriptedBroker reject(Rejection rejection) {
        script.add(r -> rejection);
        return this;
    }

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        requests.add(request);
        Function<KeyRequest, Admission> next = script.poll();
        if (next == null) {
            return CompletableFuture.completedFuture(new Rejection(Rejection.Reason.NO_UNTRIED_KEY,
                    java.time.Duration.ofSeconds(1), "script exhausted"));
        }
        return CompletableFuture.completedFuture(next.apply(request));
    }

    @Override
    public void close() {}

    /** A lease that remembers how it was settled (and how often). */
    public static final class RecordingLease implements Lease {
        private final ApiKeyConfig key;
        public final List<Outcome> settlements = new CopyOnWriteArrayList<>();
        public final CompletableFuture<Outcome> settled = new CompletableFuture<>();

        RecordingLease(ApiKeyConfig key) {
            this.key = key;
        }

        @Override
        public ApiKeyConfig key() {
            return key;
        }

        @Override
        public long reservedTokens() {
            return 0;
        }

        @Override
        public long queuedNanos() {
            return 0;
        }

        @Override
        public void settle(Outcome outcome) {
            settlements.add(outcome);
            settled.complete(outcome);
        }
    }
}
