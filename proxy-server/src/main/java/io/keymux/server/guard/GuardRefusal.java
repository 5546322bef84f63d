package io.keymux.server.guard;

import org.jspecify.annotations.Nullable;

/**
 * A request {@link HttpGuard} answered itself, before routing (SPEC.md section 4: 400, 405, 408, 414,
 * 431, 503), as its audit line needs it (SPEC.md section 6).
 *
 * @param requestId the client's {@code X-Request-Id} when its headers were read, else a new one
 * @param remoteAddr the client socket's IP address, or {@code null} when it has none
 * @param method the request method, or {@code null} when the request line could not be read
 * @param path the request path without its query, or {@code null} when the request line could not be
 *     read or its target was refused (a refused target is not echoed into the log: it may hold
 *     anything, {@code user:password@} included)
 * @param status the status the guard answered
 * @param latencyNanos from the request's first byte (or the connection's opening) to the answer
 */
public record GuardRefusal(
        String requestId,
        @Nullable String remoteAddr,
        @Nullable String method,
        @Nullable String path,
        int status,
        long latencyNanos) {

    /** Told of each refusal, on the connection's event loop: it must not block. */
    @FunctionalInterface
    public interface Listener {
        /** A listener that ignores every refusal (the admin port's guard). */
        Listener IGNORE = refusal -> {};

        void refused(GuardRefusal refusal);
    }
}
