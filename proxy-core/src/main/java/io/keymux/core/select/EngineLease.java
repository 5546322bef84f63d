package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.ratelimit.ProviderLimits;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/** The broker's {@link Lease}: settles at most once, whoever calls first. */
final class EngineLease implements Lease {
    private final BrokerEngine engine;
    final KeySlot slot;
    private final ApiKeyConfig key;
    final TaskConfig task;
    final String client;
    private final long reserved;
    /** {@link KeySlot#PROBE} and {@link KeySlot#DORMANT_PROBE} bits of the take. */
    final long flags;
    /** The key's {@code models} bucket this lease also reserved from, or {@code null}. */
    final @org.jspecify.annotations.Nullable ModelSlot model;
    private final long queuedNanos;
    private final AtomicBoolean settled = new AtomicBoolean();

    EngineLease(BrokerEngine engine, KeySlot slot, TaskConfig task, String client, long reserved, long flags,
            @org.jspecify.annotations.Nullable ModelSlot model, long queuedNanos) {
        this.engine = engine;
        this.slot = slot;
        this.key = slot.config();
        this.task = task;
        this.client = client;
        this.reserved = reserved;
        this.flags = flags;
        this.model = model;
        this.queuedNanos = queuedNanos;
    }

    @Override
    public ApiKeyConfig key() {
        return key;
    }

    @Override
    public io.keymux.config.model.@org.jspecify.annotations.Nullable ModelLimits modelLimits() {
        return model == null ? null : model.bucket.config();
    }

    @Override
    public long reservedTokens() {
        return reserved;
    }

    @Override
    public long queuedNanos() {
        return queuedNanos;
    }

    @Override
    public void settle(Outcome outcome) {
        Objects.requireNonNull(outcome, "outcome");
        if (settled.compareAndSet(false, true)) {
            engine.settle(this, outcome);
        }
    }

    @Override
    public void observe(ProviderLimits limits) {
        Objects.requireNonNull(limits, "limits");
        if (!settled.get()) {
            slot.observe(limits, model);
        }
    }

    /** Returns everything: the lease was granted to a caller that had already gone (cancelled). */
    void releaseUnsent() {
        if (settled.compareAndSet(false, true)) {
            engine.settle(this, new Outcome.Unused());
        }
    }

    boolean isSettled() {
        return settled.get();
    }

    @Override
    public String toString() {
        return "Lease[key_id=" + key.keyId() + ", task=" + task.name() + ", reserved=" + reserved
                + (model != null ? ", model_bucket=" + model.bucket.pattern() : "") + "]";
    }
}
