package io.keymux.core.cache;

/**
 * What a request waiting on a {@link Flight} is told, in order: {@link #onStart} once (a 2xx began),
 * {@link #onChunk} per piece of the body, then {@link #onComplete} or {@link #onAbandon}; or only
 * {@link #onAbandon} when the answer never began as a 2xx. Called under the flight's lock, so the
 * order holds; an implementation only hands the signal on (for example into a sink) and never blocks.
 */
public interface FlightListener {

    /** The leader's answer began with a 2xx status. */
    void onStart(int status, String contentType, boolean eventStream);

    /** The next piece of the body (the listener must not modify it). */
    void onChunk(byte[] chunk);

    /** The answer is complete; {@code costUsd} is what it cost upstream. */
    void onComplete(double costUsd);

    /**
     * The answer will not be completed (a non-2xx, a break, or the leader's call was cancelled): a
     * listener that has not answered its client yet goes on by itself.
     */
    void onAbandon();
}
