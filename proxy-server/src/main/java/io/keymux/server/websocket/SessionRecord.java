package io.keymux.server.websocket;

import io.keymux.server.audit.AuditLog;
import io.keymux.server.audit.AuditRecord;
import io.keymux.server.metrics.ProxyMetrics;
import org.jspecify.annotations.Nullable;

/**
 * What one WebSocket upgrade learned on its way, for its audit line and metrics: the same fields an
 * HTTP exchange keeps. Lives on the client connection's event loop, so its fields are plain.
 */
final class SessionRecord {
    /** The audit {@code method} of a WebSocket session (SPEC.md section 3.10). */
    static final String METHOD = "WEBSOCKET";
    /** The label of a task or key not known (the upgrade was refused before). */
    static final String NONE = "none";

    final String requestId;
    final @Nullable String remoteAddr;
    final String path;
    final long startNanos;
    final long startMillis;
    @Nullable String client;
    @Nullable String task;
    @Nullable String keyId;
    @Nullable String upstream;
    int attempts;
    int status;
    long acceptedNanos = -1;
    long promptTokens;
    long completionTokens;
    long cachedTokens;
    boolean usageSeen;
    double costUsd;

    SessionRecord(String requestId, @Nullable String remoteAddr, String path, long startNanos, long startMillis) {
        this.requestId = requestId;
        this.remoteAddr = remoteAddr;
        this.path = path;
        this.startNanos = startNanos;
        this.startMillis = startMillis;
    }

    /** The upgrade or session is over: one {@code keymux_requests_total} and one audit line. */
    void finish(long nowNanos, ProxyMetrics metrics, AuditLog audit) {
        metrics.request(label(task), label(keyId), status);
        metrics.clientRequest(task, status, nowNanos - startNanos);
        audit.record(new AuditRecord(startMillis, requestId, remoteAddr, client, task, keyId, upstream, METHOD, path, status,
                attempts, (nowNanos - startNanos) / 1_000_000,
                acceptedNanos < 0 ? null : (acceptedNanos - startNanos) / 1_000_000,
                usageSeen ? promptTokens : null, usageSeen ? completionTokens : null, usageSeen ? costUsd : null,
                "off"));
    }

    static String label(@Nullable String value) {
        return value == null ? NONE : value;
    }
}
