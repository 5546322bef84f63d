package io.keymux.server.metrics;

import io.keymux.core.history.TrafficHistory;
import io.keymux.core.time.TimeSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * The metrics keymux exports on the admin port's {@code /metrics}:
 *
 * <ul>
 *   <li>{@code keymux_requests_total{task,key_id,status}}: answers by numeric status
 *   <li>{@code keymux_failovers_total{task,reason}}: retries on another key, by {@code retry_on}
 *       name, {@code 401} or {@code 403}
 *   <li>{@code keymux_upstream_latency_seconds{task,key_id}}: histogram of upstream time
 *   <li>{@code keymux_tokens_total{task,key_id,kind}}: {@code prompt} (every input token) /
 *       {@code completion} / {@code cached_prompt} (the input tokens served from the provider's
 *       prompt cache, also counted in {@code prompt})
 *   <li>{@code keymux_cost_usd_total{task,key_id,client}}
 *   <li>{@code keymux_key_state{key_id,state}}: 1 for the key's current state, 0 for the others
 *   <li>{@code keymux_queue_wait_seconds{task}}: histogram of time waiting for capacity
 *   <li>{@code keymux_config_reloads_total{result}}: {@code ok} / {@code refused}
 *   <li>{@code keymux_redis_up}: 0/1, only with {@code limits.backend: redis} ({@link #redisUp})
 *   <li>{@code keymux_redis_latency_seconds} (histogram) and {@code keymux_replicas}, only with
 *       {@code limits.backend: redis} ({@link #redisLatency}, {@link #replicas})
 *   <li>{@code keymux_audit_dropped_total}: audit lines dropped because the writer fell behind
 *   <li>{@code keymux_cache_requests_total{task,result}}: requests of caching tasks by {@code hit},
 *       {@code coalesced}, {@code miss} or {@code bypass}
 *   <li>{@code keymux_cache_bytes}: bytes the response cache holds
 *   <li>{@code keymux_cache_saved_cost_usd_total{task}}: what hits and coalesced answers would have cost
 *   <li>{@code keymux_websocket_sessions{task,key_id}}: WebSocket sessions open now ({@link #websocketOpened})
 * </ul>
 *
 * Meters are cached per label set, so the hot path is a map lookup and an atomic add.
 *
 * <p>It also keeps the last 15 minutes for {@code /admin/history} and the dashboard ({@link #history()}):
 * client requests arrive through {@link #clientRequest}, attempts through a {@link RecordingBroker}.
 */
public final class ProxyMetrics {
    /** The content type of {@link #scrape()}: Prometheus text format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** The states of SPEC.md section 5's {@code /admin/keys}. */
    public static final String[] KEY_STATES = {"active", "cooling_down", "circuit_open", "disabled", "quota_exhausted",
        "budget_exhausted"};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<Tags, Counter> requests = new ConcurrentHashMap<>();
    private final Map<Tags, Counter> failovers = new ConcurrentHashMap<>();
    private final Map<Tags, Timer> upstreamLatency = new ConcurrentHashMap<>();
    private final Map<Tags, Counter> tokens = new ConcurrentHashMap<>();
    private final Map<Tags, Counter> cost = new ConcurrentHashMap<>();
    private final Map<Tags, Timer> queueWait = new ConcurrentHashMap<>();
    private final Map<String, Counter> reloads = new ConcurrentHashMap<>();
    private final Map<String, Boolean> keyStateGauges = new ConcurrentHashMap<>();
    private final TrafficHistory history;

    /** Metrics with a history on the system clock. */
    public ProxyMetrics() {
        this(TimeSource.system());
    }

    /** Metrics whose history's steps follow {@code time}'s wall clock. */
    public ProxyMetrics(TimeSource time) {
        this.history = TrafficHistory.create(Objects.requireNonNull(time, "time"));
    }

    /** The last 15 minutes per key and task, and the client request totals. */
    public TrafficHistory history() {
        return history;
    }

    /**
     * A client request is over: counted once however many keys it tried, with its final status and
     * its time from arrival to last byte. One rejected before a task was known ({@code task} null,
     * for example a wrong client key) is not a request of any task and is not counted.
     */
    public void clientRequest(@Nullable String task, int status, long latencyNanos) {
        if (task != null) {
            history.clientRequest(task, status, latencyNanos);
        }
    }
    private final Map<Tags, Counter> cacheRequests = new ConcurrentHashMap<>();
    private final Map<String, Counter> cacheSaved = new ConcurrentHashMap<>();
    private final Map<Tags, java.util.concurrent.atomic.AtomicInteger> websocketSessions = new ConcurrentHashMap<>();

    /** A WebSocket session opened on {@code keyId}: {@code keymux_websocket_sessions} goes up by one. */
    public void websocketOpened(String task, String keyId) {
        websocketGauge(task, keyId).incrementAndGet();
    }

    /** A session {@link #websocketOpened opened} earlier ended. */
    public void websocketClosed(String task, String keyId) {
        websocketGauge(task, keyId).decrementAndGet();
    }

    private java.util.concurrent.atomic.AtomicInteger websocketGauge(String task, String keyId) {
        return websocketSessions.computeIfAbsent(Tags.of("task", task, "key_id", keyId), tags -> {
            java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
            Gauge.builder("keymux.websocket.sessions", open, java.util.concurrent.atomic.AtomicInteger::get)
                    .description("WebSocket sessions open now").tags(tags).register(registry);
            return open;
        });
    }

    /** One answer given to a client (or an attempt's final status). */
    public void request(String task, String keyId, int status) {
        requests.computeIfAbsent(Tags.of("task", task, "key_id", keyId, "status", Integer.toString(status)),
                        tags -> Counter.builder("keymux.requests").description("Requests answered, by final status")
                                .tags(tags).register(registry))
                .increment();
    }

    private final Map<Tags, Counter> affinity = new ConcurrentHashMap<>();

    /**
     * One provider-object or prompt affinity decision ({@code keymux_affinity_total{task,result}}):
     * {@code pinned}, {@code discovered}, {@code unknown}, {@code key_removed}, {@code prompt_preferred}
     * or {@code prompt_moved} (SPEC.md section 5).
     */
    public void affinity(String task, String result) {
        affinity.computeIfAbsent(Tags.of("task", task, "result", result),
                        tags -> Counter.builder("keymux.affinity")
                                .description("Requests routed by the key that holds their object, or by their prompt")
                                .tags(tags).register(registry))
                .increment();
    }

    /** One failover: an attempt that ended in {@code reason} and was retried on another key. */
    public void failover(String task, String reason) {
        failovers.computeIfAbsent(Tags.of("task", task, "reason", reason),
                        tags -> Counter.builder("keymux.failovers").description("Attempts retried on another key")
                                .tags(tags).register(registry))
                .increment();
    }

    /** Time from sending an attempt upstream to the end of its answer. */
    public void upstreamLatency(String task, String keyId, long nanos) {
        upstreamLatency.computeIfAbsent(Tags.of("task", task, "key_id", keyId),
                        tags -> Timer.builder("keymux.upstream.latency").description("Upstream answer time")
                                .tags(tags).publishPercentileHistogram()
                                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(5))
                                .register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Settled token usage, no prompt token served from the provider's cache. */
    public void tokens(String task, String keyId, long promptTokens, long completionTokens) {
        tokens(task, keyId, promptTokens, 0, completionTokens);
    }

    /**
     * Settled token usage; {@code cachedPromptTokens} are a part of {@code promptTokens}, counted
     * again under {@code kind="cached_prompt"}.
     */
    public void tokens(String task, String keyId, long promptTokens, long cachedPromptTokens, long completionTokens) {
        if (promptTokens > 0) {
            tokenCounter(task, keyId, "prompt").increment(promptTokens);
        }
        if (completionTokens > 0) {
            tokenCounter(task, keyId, "completion").increment(completionTokens);
        }
        if (cachedPromptTokens > 0) {
            tokenCounter(task, keyId, "cached_prompt").increment(cachedPromptTokens);
        }
    }

    private Counter tokenCounter(String task, String keyId, String kind) {
        return tokens.computeIfAbsent(Tags.of("task", task, "key_id", keyId, "kind", kind),
                tags -> Counter.builder("keymux.tokens").description("Tokens used, settled from usage")
                        .tags(tags).register(registry));
    }

    /** Settled cost in USD. */
    public void cost(String task, String keyId, String client, double usd) {
        if (usd <= 0) {
            return;
        }
        cost.computeIfAbsent(Tags.of("task", task, "key_id", keyId, "client", client),
                        tags -> Counter.builder("keymux.cost.usd").description("Cost in USD, settled from usage")
                                .tags(tags).register(registry))
                .increment(usd);
    }

    /** Time a request waited for capacity before it got a key. */
    public void queueWait(String task, long nanos) {
        queueWait.computeIfAbsent(Tags.of("task", task),
                        tags -> Timer.builder("keymux.queue.wait").description("Time waiting for a key with capacity")
                                .tags(tags).publishPercentileHistogram()
                                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(2))
                                .register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A config reload, applied ({@code ok}) or refused. */
    public void reload(boolean applied) {
        reloads.computeIfAbsent(applied ? "ok" : "refused",
                        result -> Counter.builder("keymux.config.reloads").description("Config reloads by result")
                                .tag("result", result).register(registry))
                .increment();
    }

    /**
     * Registers {@code keymux_key_state{key_id,state}} for a key, read from {@code stateOf} at
     * scrape time. Registering the same key again is a no-op, so a reload may call it for every key.
     */
    public <T> void keyState(String keyId, T source, java.util.function.Function<T, String> stateOf) {
        if (keyStateGauges.putIfAbsent(keyId, Boolean.TRUE) != null) {
            return;
        }
        for (String state : KEY_STATES) {
            ToDoubleFunction<T> isState = s -> state.equals(stateOf.apply(s)) ? 1.0 : 0.0;
            Gauge.builder("keymux.key.state", source, isState)
                    .description("1 for the key's current state")
                    .tags("key_id", keyId, "state", state)
                    .register(registry);
        }
    }

    /**
     * Registers a counter read from {@code source} at scrape time, such as
     * {@code keymux_audit_dropped_total}; registering the same name again is a no-op.
     */
    public <T> void countOf(String name, String description, T source, ToDoubleFunction<T> count) {
        FunctionCounter.builder(name, source, count).description(description).register(registry);
    }

    /**
     * Registers {@code keymux_redis_up} (1 while the shared limit store answers, else 0). Only for
     * {@code limits.backend: redis}; registering it twice is a no-op.
     */
    public void redisUp(BooleanSupplier up) {
        Objects.requireNonNull(up, "up");
        if (registry.find("keymux.redis.up").gauge() == null) {
            // Held strongly: gauges keep their source weakly, and a lambda has no other owner.
            Gauge.builder("keymux.redis.up", up, u -> u.getAsBoolean() ? 1 : 0)
                    .description("1 while the Redis limit backend is reachable")
                    .strongReference(true)
                    .register(registry);
        }
    }

    /**
     * Registers {@code keymux_replicas}: the replicas sharing the Redis limit backend that were alive
     * in the last 30 s (1 with the local backend). Registering it twice is a no-op.
     */
    public void replicas(java.util.function.IntSupplier live) {
        Objects.requireNonNull(live, "live");
        if (registry.find("keymux.replicas").gauge() == null) {
            Gauge.builder("keymux.replicas", live, l -> l.getAsInt())
                    .description("Replicas sharing key state through Redis, alive in the last 30 s")
                    .strongReference(true)
                    .register(registry);
        }
    }

    /**
     * A function that records one shared decision's Redis round trip in
     * {@code keymux_redis_latency_seconds} (a histogram).
     */
    public java.util.function.LongConsumer redisLatency() {
        Timer timer = Timer.builder("keymux.redis.latency").description("Round trip of one Redis command")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(50_000)).maximumExpectedValue(Duration.ofSeconds(5))
                .register(registry);
        return nanos -> timer.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A request of a caching task, by its cache result. */
    public void cacheRequest(String task, String result) {
        cacheRequests.computeIfAbsent(Tags.of("task", task, "result", result),
                        tags -> Counter.builder("keymux.cache.requests")
                                .description("Requests of caching tasks by cache result").tags(tags).register(registry))
                .increment();
    }

    /** The original cost of an answer given again from the cache or to a coalesced request. */
    public void cacheSaved(String task, double usd) {
        cacheSaved.computeIfAbsent(task,
                        t -> Counter.builder("keymux.cache.saved.cost.usd")
                                .description("USD not spent upstream thanks to cache hits and coalescing")
                                .tag("task", t).register(registry))
                .increment(usd);
    }

    /** Registers {@code keymux_cache_bytes}, read from {@code source} at scrape time (held strongly). */
    public <T> void cacheBytes(T source, ToDoubleFunction<T> bytes) {
        if (registry.find("keymux.cache.bytes").gauge() == null) {
            Gauge.builder("keymux.cache.bytes", source, bytes).description("Bytes held by the response cache")
                    .strongReference(true).register(registry);
        }
    }

    /** The Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }
}
