package io.keymux.server.metrics;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.core.history.AttemptKind;
import io.keymux.core.history.TrafficHistory;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Admission;
import io.keymux.core.select.ForwardingKeyBroker;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * A {@link KeyBroker} in front of another that writes every attempt into a {@link TrafficHistory}:
 * each settled lease counts on its key (answered, 429 or failed, with tokens and cost) and its cost
 * on the task, and each acquire that has to wait counts in the task's queue depth until it is
 * answered. The request path needs no change for it: the pipeline settles the lease it was given,
 * which is this broker's.
 *
 * <p>A lease deferred by a shared limit ({@link Outcome.Deferred}) was never used and is not counted.
 */
public final class RecordingBroker extends ForwardingKeyBroker {
    private final TrafficHistory history;

    /** Wraps {@code delegate}, writing into {@code history}. */
    public RecordingBroker(KeyBroker delegate, TrafficHistory history) {
        super(delegate);
        this.history = Objects.requireNonNull(history, "history");
    }

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        CompletableFuture<Admission> admission = delegate.acquire(request);
        String task = request.task();
        if (admission.isDone() && !admission.isCompletedExceptionally()) {
            // The common case, answered at once: no queue, no second future to chain.
            return CompletableFuture.completedFuture(wrap(Objects.requireNonNull(admission.getNow(null)), task));
        }
        history.queueEntered(task);
        CompletableFuture<Admission> wrapped = new CompletableFuture<>();
        // Completes on a grant, a rejection at max_wait, or a cancellation (the client went away).
        admission.whenComplete((granted, error) -> {
            history.queueLeft(task);
            if (error != null) {
                wrapped.completeExceptionally(error);
            } else if (!wrapped.complete(wrap(granted, task)) && granted instanceof Lease lease) {
                // The caller cancelled while the grant was on its way: nobody will settle it.
                lease.settle(new Outcome.Cancelled());
            }
        });
        // Cancelling ours cancels the delegate's, which takes the request out of its queue.
        wrapped.whenComplete((granted, error) -> {
            if (wrapped.isCancelled()) {
                admission.cancel(false);
            }
        });
        return wrapped;
    }

    private Admission wrap(Admission admission, String task) {
        return admission instanceof Lease lease ? new RecordedLease(lease, task) : admission;
    }

    /** How the history counts an outcome; {@code null} for one that was not an attempt. */
    static @Nullable AttemptKind kindOf(Outcome outcome) {
        // A switch expression over the kind: an outcome added without its count does not compile.
        return switch (outcome.kind()) {
            case ANSWERED -> ((Outcome.Answered) outcome).status() >= 500 ? AttemptKind.FAILED : AttemptKind.ANSWERED;
            case RATE_LIMITED -> AttemptKind.RATE_LIMITED;
            // A 429 insufficient_quota is a 429 on the key's chart; a 402 is the key failing the request.
            case QUOTA_EXHAUSTED -> ((Outcome.QuotaExhausted) outcome).status() == 429
                    ? AttemptKind.RATE_LIMITED : AttemptKind.FAILED;
            // The provider turned the request away (529, 503 overloaded): not answered.
            case OVERLOADED, SERVER_ERROR, CONNECT_FAILURE, TIMEOUT, UNAUTHORIZED -> AttemptKind.FAILED;
            // The client went away mid-attempt: the key was not at fault and took the request.
            case CANCELLED -> AttemptKind.ANSWERED;
            // Never sent: not an attempt.
            case DEFERRED, UNUSED -> null;
        };
    }

    /** The delegate's lease, recorded once when settled. */
    private final class RecordedLease implements Lease {
        private final Lease lease;
        private final String task;
        private final AtomicBoolean settled = new AtomicBoolean();

        RecordedLease(Lease lease, String task) {
            this.lease = lease;
            this.task = task;
        }

        @Override
        public ApiKeyConfig key() {
            return lease.key();
        }

        @Override
        public long reservedTokens() {
            return lease.reservedTokens();
        }

        @Override
        public long queuedNanos() {
            return lease.queuedNanos();
        }

        @Override
        public void observe(ProviderLimits limits) {
            lease.observe(limits);
        }

        @Override
        public void settle(Outcome outcome) {
            lease.settle(outcome);
            if (!settled.compareAndSet(false, true)) {
                return;
            }
            AttemptKind kind = kindOf(outcome);
            if (kind == null) {
                return;
            }
            long tokens = 0;
            double cost = 0;
            if (outcome instanceof Outcome.Answered a && a.usageKnown()) {
                ApiKeyConfig key = lease.key();
                tokens = a.promptTokens() + a.completionTokens();
                // The one cost formula, the broker's and the shared spend's.
                cost = key.costUsd(a.promptTokens(), a.cachedPromptTokens(), a.completionTokens());
            }
            history.attempt(lease.key().keyId(), task, kind, tokens, cost);
        }

        @Override
        public String toString() {
            // The key's id only: the lease's key config holds the secret.
            return "RecordedLease[" + lease.key().keyId() + "]";
        }
    }
}
