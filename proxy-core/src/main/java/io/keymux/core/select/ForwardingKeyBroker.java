package io.keymux.core.select;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.core.ratelimit.ClientGate;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A broker that passes every call to another, for decorators that change only part of the
 * behaviour (in the manner of Guava's {@code Forwarding*} classes): a decorator overrides what it
 * changes, and a method later added to {@link KeyBroker} reaches the engine through every
 * decorator without being remembered in each.
 */
public abstract class ForwardingKeyBroker implements KeyBroker {
    /** The broker calls are passed to. */
    protected final KeyBroker delegate;

    protected ForwardingKeyBroker(KeyBroker delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        return delegate.acquire(request);
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public List<KeyStatus> keyStates() {
        return delegate.keyStates();
    }

    @Override
    public CompletableFuture<Boolean> enable(String keyId) {
        return delegate.enable(keyId);
    }

    @Override
    public int liveReplicas() {
        return delegate.liveReplicas();
    }

    @Override
    public BrokerMetrics metrics() {
        return delegate.metrics();
    }

    @Override
    public ClientGate clients() {
        return delegate.clients();
    }

    @Override
    public void reconfigure(KeymuxConfig next) {
        delegate.reconfigure(next);
    }
}
