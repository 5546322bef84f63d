package io.keymux.core.cache;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One cacheable answer in flight upstream, which identical requests join instead of calling the
 * upstream themselves (request coalescing, as nginx's {@code proxy_cache_lock} or Varnish's request
 * collapsing). The leader feeds it ({@link #start}, {@link #chunk}, {@link #complete} or
 * {@link #abandon}); each joined {@link FlightListener} gets what came so far, then the rest live.
 *
 * <p>Membership decides cancellation: the leader's client counts until it {@linkplain #leaderLeft()
 * leaves}, each listener until it {@linkplain #leave leaves}; once nobody is left before the answer
 * is complete, the {@linkplain #onIdle idle action} (cancelling the upstream call) runs once.
 *
 * <p>Thread-safe; every method takes the flight's lock briefly and never blocks inside it.
 */
public final class Flight {
    private enum State { WAITING, STREAMING, DONE, ABANDONED }

    private final CacheKey key;
    private final Duration ttl;
    private final @Nullable AnswerCache owner;
    /** Copy-on-write: a listener may leave (its sink cancelled) while being told something. */
    private final List<FlightListener> listeners = new CopyOnWriteArrayList<>();
    private State state = State.WAITING;
    private int status;
    private String contentType = "";
    private boolean eventStream;
    /** The body so far, for late joiners and the store; {@code null} once it outgrew the store's limit. */
    private @Nullable List<byte[]> history = new ArrayList<>();
    private long bytes;
    private boolean leaderPresent = true;
    private @Nullable Runnable idle;
    private boolean idleRan;

    Flight(CacheKey key, Duration ttl, @Nullable AnswerCache owner) {
        this.key = Objects.requireNonNull(key, "key");
        this.ttl = Objects.requireNonNull(ttl, "ttl");
        this.owner = owner;
    }

    /** The request this flight answers. */
    public CacheKey key() {
        return key;
    }

    /** What runs once when nobody waits any more before the answer completed (cancel the upstream call). */
    public void onIdle(Runnable action) {
        boolean runNow;
        synchronized (this) {
            idle = Objects.requireNonNull(action, "action");
            runNow = isIdle();
            if (runNow) {
                idleRan = true;
            }
        }
        if (runNow) {
            action.run();
        }
    }

    /**
     * Joins this flight: {@code listener} is told what happened so far at once, then the rest as it
     * happens. Returns {@code false} (and tells nothing) when the flight can no longer be joined: it
     * ended, or its body outgrew the store so the start is gone; the caller then looks up again.
     */
    public synchronized boolean join(FlightListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (state == State.DONE || state == State.ABANDONED || history == null || idleRan) {
            return false;
        }
        if (state == State.STREAMING) {
            listener.onStart(status, contentType, eventStream);
            for (byte[] chunk : history) {
                listener.onChunk(chunk);
            }
        }
        listeners.add(listener);
        return true;
    }

    /** A listener's client went away; the others go on. */
    public void leave(FlightListener listener) {
        Runnable action;
        synchronized (this) {
            listeners.remove(listener);
            action = idleActionIfIdle();
        }
        if (action != null) {
            action.run();
        }
    }

    /** The leader's client went away; the upstream call goes on while anybody else waits. */
    public void leaderLeft() {
        Runnable action;
        synchronized (this) {
            leaderPresent = false;
            action = idleActionIfIdle();
        }
        if (action != null) {
            action.run();
        }
    }

    /** Requests waiting on this flight apart from the leader's own client. */
    public synchronized int waiting() {
        return listeners.size();
    }

    private boolean isIdle() {
        return !leaderPresent && listeners.isEmpty() && (state == State.WAITING || state == State.STREAMING);
    }

    private @Nullable Runnable idleActionIfIdle() {
        if (idle != null && !idleRan && isIdle()) {
            idleRan = true;
            return idle;
        }
        return null;
    }

    /**
     * The leader's answer began. A non-2xx abandons the flight (each waiter goes on by itself) and
     * returns {@code false}: nothing of it is stored or shared.
     */
    public synchronized boolean start(int status, String contentType, boolean eventStream) {
        if (state != State.WAITING) {
            return false;
        }
        if (status < 200 || status > 299) {
            abandonLocked();
            return false;
        }
        this.state = State.STREAMING;
        this.status = status;
        this.contentType = Objects.requireNonNull(contentType, "contentType");
        this.eventStream = eventStream;
        for (FlightListener l : listeners) {
            l.onStart(status, contentType, eventStream);
        }
        return true;
    }

    /** The next piece of the leader's body, exactly as its client gets it; the flight keeps {@code chunk}. */
    public synchronized void chunk(byte[] chunk) {
        if (state != State.STREAMING) {
            return;
        }
        bytes += chunk.length;
        List<byte[]> h = history;
        if (h != null) {
            if (bytes > AnswerCache.MAX_ANSWER_BYTES) {
                // Too large to store: nobody new may join (the start is forgotten); those here go on live.
                history = null;
                detach();
            } else {
                h.add(chunk);
            }
        }
        for (FlightListener l : listeners) {
            l.onChunk(chunk);
        }
    }

    /** The answer is whole: stored (unless it outgrew the limit) and handed to every listener. */
    public synchronized void complete(double costUsd) {
        if (state != State.STREAMING) {
            return;
        }
        state = State.DONE;
        List<byte[]> h = history;
        history = null;
        if (owner != null && h != null) {
            owner.store(key, new StoredAnswer(status, contentType, concat(h, (int) bytes), eventStream,
                    Math.max(0, costUsd)), ttl);
        }
        detach();
        for (FlightListener l : listeners) {
            l.onComplete(costUsd);
        }
        listeners.clear();
    }

    /** The answer will not complete: every listener is told; nothing is stored. Idempotent. */
    public synchronized void abandon() {
        if (state == State.DONE || state == State.ABANDONED) {
            return;
        }
        abandonLocked();
    }

    private void abandonLocked() {
        state = State.ABANDONED;
        history = null;
        detach();
        for (FlightListener l : listeners) {
            l.onAbandon();
        }
        listeners.clear();
    }

    private void detach() {
        if (owner != null) {
            owner.landed(this);
        }
    }

    private static byte[] concat(List<byte[]> chunks, int size) {
        if (chunks.size() == 1 && chunks.get(0).length == size) {
            return chunks.get(0);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(size);
        for (byte[] c : chunks) {
            out.writeBytes(c);
        }
        return out.toByteArray();
    }

    @Override
    public String toString() {
        return "Flight[" + key + ", " + state + "]";
    }
}
