package io.keymux.server.audit;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.jspecify.annotations.Nullable;

/**
 * One request as the audit log records it (SPEC.md section 6). No secret and no body: the path is
 * logged without its query string, since a query may carry anything.
 *
 * @param tsMillis when the request arrived, epoch milliseconds (written RFC 3339 UTC with millis)
 * @param remoteAddr the client socket's IP address ({@code 127.0.0.1}, {@code ::1}), or {@code null}
 *     when the connection has none (a Unix socket, an in-process warm-up exchange)
 * @param client the client's configured name, or {@code null} when authentication failed
 * @param method the request method, or {@code null} when keymux could not read the request line
 * @param path the path without its query, or {@code null} when the request line or its target was refused
 * @param keyId the key of the last attempt, or {@code null} when no key was chosen
 * @param ttfbMs time to the first byte sent to the client, or {@code null} when none was
 * @param cache {@code off}, {@code miss}, {@code hit}, {@code coalesced} or {@code bypass}
 */
public record AuditRecord(
        long tsMillis,
        String requestId,
        @Nullable String remoteAddr,
        @Nullable String client,
        @Nullable String task,
        @Nullable String keyId,
        @Nullable String upstream,
        @Nullable String method,
        @Nullable String path,
        int status,
        int attempts,
        long latencyMs,
        @Nullable Long ttfbMs,
        @Nullable Long promptTokens,
        @Nullable Long completionTokens,
        @Nullable Double costUsd,
        String cache) {

    /**
     * The IP address of a peer as the audit line writes it: the literal address, never a host name
     * (nothing here may resolve a name, on an event loop). {@code null} when the peer is not an IP socket.
     */
    public static @Nullable String addressOf(@Nullable SocketAddress peer) {
        if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
            return inet.getAddress().getHostAddress();
        }
        return null;
    }
}
