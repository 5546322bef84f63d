package io.keymux.server.cache;

import io.keymux.config.model.CacheConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.cache.AnswerCache;
import io.keymux.core.cache.CacheKey;
import io.keymux.core.cache.CacheLookup;
import io.keymux.core.cache.Flight;
import io.keymux.core.time.TimeSource;
import io.keymux.server.metrics.ProxyMetrics;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Locale;
import java.util.Objects;

/**
 * This replica's response cache (SPEC.md section 3.8): one {@link AnswerCache} for every task that
 * turns caching on, kept across config reloads, with its metrics ({@code keymux_cache_requests_total},
 * {@code keymux_cache_bytes}, {@code keymux_cache_saved_cost_usd_total}).
 *
 * <p>{@link #decide} is the one lookup the request path makes before a key is chosen.
 */
public final class ResponseCache {
    private final AnswerCache store;
    private final ProxyMetrics metrics;

    /** A cache of at most {@code maxBytes} on {@code time}'s clock, reporting to {@code metrics}. */
    public ResponseCache(long maxBytes, TimeSource time, ProxyMetrics metrics) {
        this.store = AnswerCache.create(maxBytes, Objects.requireNonNull(time, "time"));
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        metrics.cacheBytes(store, AnswerCache::bytes);
    }

    /**
     * The cache's decision for one request.
     *
     * @param client the authenticated client's name
     * @param pathAndQuery the forwarded path, with {@code ?query} when there is one
     * @param json whether the body is well-formed JSON by its Content-Type and parse
     * @param stream whether the body asks for a streamed answer
     */
    public CacheStep decide(TaskConfig task, String client, String method, String pathAndQuery, byte[] body,
            boolean json, boolean stream, HttpHeaders headers) {
        CacheConfig cache = task.cache();
        if (!cache.enabled()) {
            return new CacheStep.Off();
        }
        if (!"POST".equals(method) || !json || (stream && !cache.stream()) || noCache(headers)) {
            return new CacheStep.Bypass();
        }
        byte[] canonical = CanonicalJson.of(body);
        if (canonical == null) {
            return new CacheStep.Bypass();
        }
        // scope: global shares answers across tasks too, so the task is not part of its key.
        String taskPart = cache.scope() == CacheConfig.Scope.GLOBAL ? "" : task.name();
        CacheKey key = CacheKey.of(taskPart, scope(cache.scope(), client), method, pathAndQuery, canonical);
        CacheLookup lookup = store.lookup(key, cache.ttl());
        if (lookup instanceof CacheLookup.Hit hit) {
            return new CacheStep.Hit(hit.answer());
        }
        if (lookup instanceof CacheLookup.Join join) {
            return new CacheStep.Join(join.flight());
        }
        return new CacheStep.Lead(((CacheLookup.Lead) lookup).flight());
    }

    /**
     * A flight for a request that waited on another whose answer did not come: it goes upstream by
     * itself (a miss), nobody joins it, and its 2xx answer is still stored.
     */
    public Flight alone(Flight abandoned, TaskConfig task) {
        return store.solo(abandoned.key(), task.cache().ttl());
    }

    private static String scope(CacheConfig.Scope scope, String client) {
        return switch (scope) {
            case CLIENT -> "client:" + client;
            case TASK -> "task";
            case GLOBAL -> "global";
        };
    }

    /** {@code Cache-Control: no-cache} or {@code no-store} among the request's directives. */
    static boolean noCache(HttpHeaders headers) {
        for (String value : headers.getAll(HttpHeaderNames.CACHE_CONTROL)) {
            for (String directive : value.split(",")) {
                String d = directive.trim().toLowerCase(Locale.ROOT);
                if (d.equals("no-cache") || d.equals("no-store")) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Applies a reloaded {@code cache.max_bytes}: see {@link AnswerCache#resize}. */
    public void resize(long maxBytes) {
        if (store.maxBytes() != maxBytes) {
            store.resize(maxBytes);
        }
    }

    /** A hit or coalesced answer saved what the original answer cost. */
    public void saved(String task, double costUsd) {
        if (costUsd > 0) {
            metrics.cacheSaved(task, costUsd);
        }
    }

    /** Empties the store ({@code DELETE /admin/cache}); returns how many answers it held. */
    public long purge() {
        return store.purge();
    }

    /** The store itself, for tests and benchmarks. */
    public AnswerCache store() {
        return store;
    }
}
