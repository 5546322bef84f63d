package io.keymux.server.pipeline;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.core.select.Admission;
import io.keymux.core.select.Lease;
import io.keymux.core.time.TimeSource;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.audit.AuditRecord;
import io.keymux.server.metrics.ProxyMetrics;
import org.jspecify.annotations.Nullable;

/**
 * What the pipeline counts about a request: tokens and cost from settled usage, queue wait, upstream
 * time, keymux's own overhead, and at the end one {@code keymux_requests_total} increment and one
 * audit line. Holds no per-request state of its own: everything lands on the {@link Exchange}.
 */
final class RequestAccounting {
    /** Response header with the milliseconds keymux itself spent, without queue wait and upstream time. */
    static final String OVERHEAD_HEADER = "X-Keymux-Overhead-Ms";
    /** The {@code task} / {@code key_id} label of a request rejected before a task or a key was known. */
    static final String NONE = "none";

    private final ProxyMetrics metrics;
    private final AuditLog audit;
    private final TimeSource time;

    RequestAccounting(ProxyMetrics metrics, AuditLog audit, TimeSource time) {
        this.metrics = metrics;
        this.audit = audit;
        this.time = time;
    }

    /**
     * Settled usage: the same arithmetic as the broker's per-key cost (cached prompt tokens at the
     * key's cached input price), kept here per task and client.
     */
    void usage(Exchange ex, Lease lease, long promptTokens, long cachedPromptTokens, long completionTokens) {
        ApiKeyConfig key = lease.key();
        double cost = key.costUsd(promptTokens, cachedPromptTokens, completionTokens);
        ex.promptTokens = promptTokens;
        ex.completionTokens = completionTokens;
        ex.costUsd = cost;
        String task = label(ex.task);
        metrics.tokens(task, key.keyId(), promptTokens, cachedPromptTokens, completionTokens);
        metrics.cost(task, key.keyId(), ex.client, cost);
    }

    /** What one attempt of {@code ex} on {@code lease} counts when it settles: its usage and upstream latency. */
    AttemptSettlement.Accounting ofAttempt(Exchange ex, Lease lease) {
        return new AttemptSettlement.Accounting() {
            @Override
            public void usage(long promptTokens, long cachedPromptTokens, long completionTokens) {
                RequestAccounting.this.usage(ex, lease, promptTokens, cachedPromptTokens, completionTokens);
            }

            @Override
            public void latency(long nanos) {
                upstreamLatency(ex, lease, nanos);
            }
        };
    }

    /** The broker answered after {@code askedNanos}: that wait is not keymux's overhead. */
    void queued(Exchange ex, Admission admission, long askedNanos) {
        ex.queueNanos += time.nanoTime() - askedNanos;
        if (admission instanceof Lease lease) {
            metrics.queueWait(label(ex.task), lease.queuedNanos());
        }
    }

    /** An attempt got its response headers (or failed) {@code sentNanos} after it was sent. */
    void upstreamHeaders(Exchange ex, long sentNanos) {
        ex.upstreamNanos += time.nanoTime() - sentNanos;
    }

    /** One attempt's upstream answer time, for {@code keymux_upstream_latency_seconds}. */
    void upstreamLatency(Exchange ex, Lease lease, long nanos) {
        metrics.upstreamLatency(label(ex.task), lease.key().keyId(), nanos);
    }

    /** Milliseconds (three decimals) spent in keymux up to now, minus queue wait and upstream time. */
    String overheadMs(Exchange ex) {
        long own = Math.max(0, time.nanoTime() - ex.startNanos - ex.queueNanos - ex.upstreamNanos);
        return millisWithMicros(own);
    }

    /** The request is over: count it and write its audit line. */
    void finish(Exchange ex) {
        long now = time.nanoTime();
        metrics.request(label(ex.task), label(ex.keyId), ex.status);
        metrics.clientRequest(ex.task, ex.status, now - ex.startNanos);
        if (!"off".equals(ex.cache)) {
            metrics.cacheRequest(label(ex.task), ex.cache);
        }
        String client = Exchange.NO_CLIENT.equals(ex.client) ? null : ex.client;
        audit.record(new AuditRecord(
                ex.startMillis,
                ex.requestId,
                AuditRecord.addressOf(ex.request.remoteAddress()),
                client,
                ex.task,
                ex.keyId,
                ex.upstream,
                ex.request.method().name(),
                ex.rawPath(),
                ex.status,
                ex.attempts,
                (now - ex.startNanos) / 1_000_000,
                ex.firstByteNanos < 0 ? null : (ex.firstByteNanos - ex.startNanos) / 1_000_000,
                ex.promptTokens < 0 ? null : ex.promptTokens,
                ex.completionTokens < 0 ? null : ex.completionTokens,
                ex.costUsd < 0 ? null : ex.costUsd,
                ex.cache));
    }

    private static String label(@Nullable String value) {
        return value == null ? NONE : value;
    }

    /**
     * Nanoseconds as milliseconds with three decimals ({@code 1234567} → {@code "1.234"}), truncated
     * to the microsecond; without {@code String.format}, which showed in the request path's profile.
     */
    static String millisWithMicros(long nanos) {
        long micros = Math.max(0, nanos) / 1_000;
        long fraction = micros % 1_000;
        String digits = Long.toString(fraction);
        return (micros / 1_000) + (fraction < 10 ? ".00" : fraction < 100 ? ".0" : ".") + digits;
    }
}
