package io.keymux.server.audit;

import org.jspecify.annotations.Nullable;

/**
 * One request as the audit log records it (SPEC.md section 6). No secret and no body: the path is
 * logged without its query string, since a query may carry anything.
 *
 * @param tsMillis when the request arrived, epoch milliseconds (written RFC 3339 UTC with millis)
 * @param client the client's configured name, or {@code null} when authentication failed
 * @param keyId the key of the last attempt, or {@code null} when no key was chosen
 * @param ttfbMs time to the first byte sent to the client, or {@code null} when none was
 * @param cache {@code off}, {@code miss}, {@code hit}, {@code coalesced} or {@code bypass}
 */
public record AuditRecord(
        long tsMillis,
        String requestId,
        @Nullable String client,
        @Nullable String task,
        @Nullable String keyId,
        @Nullable String upstream,
        String method,
        String path,
        int status,
        int attempts,
        long latencyMs,
        @Nullable Long ttfbMs,
        @Nullable Long promptTokens,
        @Nullable Long completionTokens,
        @Nullable Double costUsd,
        String cache) {}
