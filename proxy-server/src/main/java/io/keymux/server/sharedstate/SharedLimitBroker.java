package io.keymux.server.sharedstate;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.ModelLimits;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Admission;
import io.keymux.core.select.ForwardingKeyBroker;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.KeyRule;
import io.keymux.core.select.KeyStatus;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.core.time.TimeSource;
import io.keymux.server.metrics.ProxyMetrics;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.netty.util.concurrent.EventExecutorGroup;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link KeyBroker} of {@code limits.backend: redis}: the local broker decides, Redis confirms,
 * so N replicas together never exceed a key's limits (SPEC.md section 8).
 *
 * <p>A decision: the local broker leases a key within its local limits (queueing as usual); then
 * one {@link SharedKeyState#tryTake} round trip takes the request from the key's shared buckets,
 * concurrency, cooldown, circuit and budget.
 *
 * <ul>
 *   <li>Granted: the lease goes to the caller. Its settle settles the local lease and sends the
 *       same {@link KeyRule} effect to Redis without waiting (one round trip: usage correction,
 *       concurrency release, cooldown, circuit, {@code disabled}, spend).
 *   <li>Denied: the local lease is returned with {@link Outcome.Deferred}, which skips that key
 *       locally until the denial's retry-after, and the local broker is asked again (another key,
 *       or a wait), until the task's {@code max_wait} has passed; then 429 as for local limits.
 *   <li>Slow (no answer within {@code limits.redis.timeout}): asked again, holding the local
 *       lease, until {@code max_wait} runs out; then the lease goes back unused and the answer is
 *       429. Slow is never granted on this replica's own say-so.
 *   <li>Unavailable (Redis down: the connection lost, or {@code failure_threshold} timeouts in a
 *       row): the local lease is used as is.
 * </ul>
 *
 * <p>While Redis is down (and from start until it first answers) the local broker runs on every
 * key's limits scaled by {@code limits.redis.local_share}, by default {@code auto}: 1/N of the
 * replicas that heartbeated in Redis in the last 30 s (1 when none was seen). When Redis answers
 * again the full limits return (the local buckets keep their fill proportionally). No request
 * fails because Redis is down.
 *
 * <p>{@link #keyStates()} is the shared view: each key's local state merged with its shared state
 * (refreshed from Redis at most {@value #VIEW_REFRESH_MILLIS} ms apart while someone reads it and
 * every second anyway): a key cooled, opened or disabled by any replica shows so here, and usage
 * counts every replica.
 */
public final class SharedLimitBroker extends ForwardingKeyBroker {
    private static final Logger LOG = LoggerFactory.getLogger(SharedLimitBroker.class);
    /** How long a key Redis reports disabled is skipped locally before Redis is asked again. */
    private static final long DISABLED_RETRY_MILLIS = 60_000;
    /** Pause before asking again after a script error (a timeout has waited its timeout already). */
    private static final long RETRY_PAUSE_NANOS = 20_000_000L;
    /** How often this replica heartbeats in Redis (for {@code local_share: auto}). */
    private static final long HEARTBEAT_MILLIS = 5_000;
    /** The shared view is refreshed when older than this at a read. */
    static final long VIEW_REFRESH_MILLIS = 250;

    private final TimeSource time;
    private final RedisClient client;
    private final RedisHealth health;
    private final SharedKeyState shared;
    private final String prefix;
    private final EventExecutorGroup scheduler;
    private final AtomicReference<KeymuxConfig> config;
    private final Object switchLock = new Object();
    /** The local_share of the limits the delegate runs on now (1: full). Guarded by switchLock. */
    private double appliedShare;
    /** The config the delegate was last given. Guarded by switchLock. */
    private KeymuxConfig appliedConfig;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Replicas alive in the last 30 s, from the last heartbeat answered (1 before any). */
    private volatile int liveReplicas = 1;
    /** Each key's shared limits and credential fingerprint, for the current config. */
    private volatile Map<String, SharedLimits> limitsById;
    /** The last shared state read per key id, for the admin view; cleared while Redis is down. */
    private final ConcurrentHashMap<String, SharedSnapshot> view = new ConcurrentHashMap<>();
    /** Each key's enabled counter as last read: a change means another replica enabled or restored it. */
    private final ConcurrentHashMap<String, Long> enabledSeen = new ConcurrentHashMap<>();
    private final AtomicBoolean viewRefreshing = new AtomicBoolean();
    private volatile long viewReadAt = Long.MIN_VALUE;
    private final List<ScheduledFuture<?>> tasks = new ArrayList<>();

    /**
     * How this replica talks to Redis.
     *
     * @param prefix the namespace of every Redis key (tests use a random one)
     * @param replicaId this replica's name in the shared concurrency leases; unique per live replica
     * @param commandTimeout per Redis command; beyond it the decision is asked again within max_wait
     * @param minBackoff first reconnect delay after Redis went away
     * @param maxBackoff longest reconnect delay
     * @param leaseTtl how long a crashed replica's concurrency slots stay taken
     */
    public record Settings(String prefix, String replicaId, Duration commandTimeout, Duration minBackoff,
            Duration maxBackoff, Duration leaseTtl) {

        public Settings {
            Objects.requireNonNull(prefix, "prefix");
            Objects.requireNonNull(replicaId, "replicaId");
            Objects.requireNonNull(commandTimeout, "commandTimeout");
            Objects.requireNonNull(minBackoff, "minBackoff");
            Objects.requireNonNull(maxBackoff, "maxBackoff");
            Objects.requireNonNull(leaseTtl, "leaseTtl");
        }

        /** {@link #defaults()} with the command timeout of {@code limits.redis.timeout}. */
        public static Settings of(LimitsConfig.RedisConfig redis) {
            Settings d = defaults();
            return d.withTiming(redis.timeout(), d.minBackoff(), d.maxBackoff());
        }

        /** Prefix {@code keymux}, replica id from {@code POD_NAME} or {@code HOSTNAME} (else random), library defaults. */
        public static Settings defaults() {
            return new Settings(SharedKeyState.DEFAULT_PREFIX, replicaIdFromEnvironment(),
                    RedisHealth.DEFAULT_COMMAND_TIMEOUT, RedisHealth.DEFAULT_MIN_BACKOFF,
                    RedisHealth.DEFAULT_MAX_BACKOFF, SharedKeyState.DEFAULT_LEASE_TTL);
        }

        /** These settings under another prefix and replica id. */
        public Settings with(String prefix, String replicaId) {
            return new Settings(prefix, replicaId, commandTimeout, minBackoff, maxBackoff, leaseTtl);
        }

        /** These settings with another command timeout and other reconnect delays. */
        public Settings withTiming(Duration timeout, Duration min, Duration max) {
            return new Settings(prefix, replicaId, timeout, min, max, leaseTtl);
        }

        private static String replicaIdFromEnvironment() {
            for (String name : new String[] {"POD_NAME", "HOSTNAME"}) {
                String value = System.getenv(name);
                if (value != null && !value.isBlank()) {
                    return value.strip();
                }
            }
            return UUID.randomUUID().toString();
        }
    }

    /**
     * The broker {@code config} asks for: this class for {@code limits.backend: redis}, else the
     * local broker. The default of {@code KeymuxServer.Builder}.
     */
    public static KeyBroker create(KeymuxConfig config, TimeSource time) {
        return config.limits().backend() == LimitsConfig.Backend.REDIS
                ? new SharedLimitBroker(config, time, Settings.of(config.limits().redis()))
                : KeyBroker.create(config, time);
    }

    /**
     * Starts the local broker on the scaled limits and connects to {@code limits.redis.uri} in the
     * background (one Lettuce client of its own, closed by {@link #close}).
     */
    public SharedLimitBroker(KeymuxConfig config, TimeSource time, Settings settings) {
        // The local engine starts on local_share: until Redis first answers, nothing is shared.
        super(KeyBroker.create(scaled(Objects.requireNonNull(config, "config"), config.limits().redis().effectiveLocalShare(1)),
                Objects.requireNonNull(time, "time")));
        this.time = time;
        Objects.requireNonNull(settings, "settings");
        this.config = new AtomicReference<>(config);
        double share = config.limits().redis().effectiveLocalShare(1);
        this.appliedShare = share;
        this.appliedConfig = config;
        LettuceTransport.preferEpoll();
        this.client = RedisClient.create();
        this.scheduler = client.getResources().eventExecutorGroup();
        this.limitsById = sharedLimits(config);
        this.health = RedisHealth.connect(client, RedisURI.create(config.limits().redis().uri()),
                settings.commandTimeout(), settings.minBackoff(), settings.maxBackoff(),
                config.limits().redis().failureThreshold());
        this.shared = SharedKeyState.create(health, settings.prefix(), settings.replicaId(), settings.leaseTtl());
        this.prefix = settings.prefix();
        health.addListener(up -> {
            if (up) {
                heartbeat();
            } else {
                view.clear();
            }
            applyLimits();
        });
        // Redis may have answered before the listener was added.
        applyLimits();
        heartbeat();
        try {
            tasks.add(scheduler.scheduleWithFixedDelay(this::heartbeat, HEARTBEAT_MILLIS, HEARTBEAT_MILLIS,
                    TimeUnit.MILLISECONDS));
            tasks.add(scheduler.scheduleWithFixedDelay(this::refreshView, 1000, 1000, TimeUnit.MILLISECONDS));
        } catch (RejectedExecutionException shuttingDown) {
            // The client is shutting down: no heartbeat is needed any more.
        }
    }

    private static Map<String, SharedLimits> sharedLimits(KeymuxConfig config) {
        Map<String, SharedLimits> byId = new HashMap<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            byId.put(key.keyId(), SharedLimits.of(key));
        }
        return Map.copyOf(byId);
    }

    private SharedLimits limitsOf(ApiKeyConfig key) {
        SharedLimits limits = limitsById.get(key.keyId());
        // A lease of a key the last reload removed still settles with the limits it had.
        return limits != null ? limits : SharedLimits.of(key);
    }

    /** Replicas that heartbeated in Redis in the last 30 s, from the last answer (1 before any). */
    @Override
    public int liveReplicas() {
        return liveReplicas;
    }

    private void heartbeat() {
        if (closed.get() || !health.up()) {
            return;
        }
        shared.heartbeat().thenAccept(n -> n.ifPresent(count -> {
            liveReplicas = Math.max(1, count);
        }));
    }

    /** Whether Redis answers now (limits are shared); {@code false} while local limits apply. */
    public boolean redisUp() {
        return health.up();
    }

    /** Calls {@code listener} on every change of Redis reachability (on a Lettuce thread; it must not block). */
    public void onRedisChange(RedisHealth.Listener listener) {
        health.addListener(listener);
    }

    /** Completes when Redis next answers (at once when it does now), for callers that want shared limits from the start. */
    public CompletableFuture<Void> whenRedisUp() {
        return health.whenUp();
    }

    /** The Redis connection's health (tests wait on its transitions). */
    RedisHealth health() {
        return health;
    }

    /** The connection this broker shares its state on, for the object map that lives beside it (SPEC.md section 8). */
    public RedisHealth redis() {
        return health;
    }

    /** The namespace of this broker's Redis keys. */
    public String prefix() {
        return prefix;
    }

    /**
     * Registers {@code keymux_redis_up} (0/1), {@code keymux_redis_latency_seconds} and
     * {@code keymux_replicas} for {@code broker} if it is a Redis-backed broker.
     */
    public static void registerMetrics(ProxyMetrics metrics, KeyBroker broker) {
        if (broker instanceof SharedLimitBroker sharedBroker) {
            metrics.redisUp(sharedBroker::redisUp);
            metrics.replicas(sharedBroker::liveReplicas);
            sharedBroker.health.onLatency(metrics.redisLatency());
        }
    }

    // ---------------------------------------------------------------- deciding

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        Objects.requireNonNull(request, "request");
        Duration maxWait = config.get().task(request.task()).map(TaskConfig::maxWait).orElse(Duration.ZERO);
        Decision decision = new Decision(request, time.nanoTime() + Math.max(0, maxWait.toNanos()), maxWait);
        decision.result.whenComplete((admission, error) -> {
            if (decision.result.isCancelled()) {
                CompletableFuture<Admission> local = decision.current.get();
                if (local != null) {
                    local.cancel(false);
                }
            }
        });
        decide(decision, false);
        return decision.result;
    }

    /** One request's way through local leases and shared confirmations. */
    private static final class Decision {
        final KeyRequest request;
        final long deadline;
        final Duration maxWait;
        final CompletableFuture<Admission> result = new CompletableFuture<>();
        final AtomicReference<@Nullable CompletableFuture<Admission>> current = new AtomicReference<>();
        volatile long lastRetryAfterMillis;

        Decision(KeyRequest request, long deadline, Duration maxWait) {
            this.request = request;
            this.deadline = deadline;
            this.maxWait = maxWait;
        }
    }

    private void decide(Decision decision, boolean retry) {
        CompletableFuture<Admission> local = delegate.acquire(decision.request);
        decision.current.set(local);
        if (decision.result.isCancelled()) {
            local.cancel(false);
            return;
        }
        if (retry && !local.isDone()) {
            // The local broker waits up to a whole max_wait; this request has only what is left of it.
            long left = decision.deadline - time.nanoTime();
            if (left <= 0) {
                local.cancel(false);
            } else {
                scheduleDeadline(local, left);
            }
        }
        local.whenComplete((admission, error) -> {
            if (local.isCancelled()) {
                // Our deadline (or the caller) cancelled the wait.
                decision.result.complete(exhausted(decision));
            } else if (admission instanceof Lease lease) {
                confirm(decision, lease);
            } else {
                decision.result.complete(admission != null ? admission : exhausted(decision));
            }
        });
    }

    private void scheduleDeadline(CompletableFuture<Admission> local, long nanos) {
        try {
            var timer = scheduler.schedule(() -> local.cancel(false), nanos, TimeUnit.NANOSECONDS);
            local.whenComplete((admission, error) -> timer.cancel(false));
        } catch (RejectedExecutionException shuttingDown) {
            // Closing: the local broker's own max_wait still ends the wait.
        }
    }

    /** Asks Redis whether the locally leased key may go. */
    private void confirm(Decision decision, Lease lease) {
        if (decision.result.isDone()) {
            lease.settle(new Outcome.Unused());
            return;
        }
        ApiKeyConfig key = lease.key();
        SharedLimits limits = limitsOf(key);
        CompletableFuture<Grant> grant;
        try {
            KeymuxConfig current = config.get();
            HealthConfig rules = current.task(decision.request.task()).map(TaskConfig::health)
                    .orElse(current.health());
            grant = shared.tryTake(key.keyId(), limits, lease.reservedTokens(), lease.modelLimits(),
                    rules.quotaProbe(), rules.disabledProbe());
        } catch (IllegalArgumentException unsharable) {
            // A key id Redis cannot namespace (braces): that key stays local.
            LOG.debug("key {} is limited locally only: {}", key.keyId(), unsharable.getMessage());
            grant = CompletableFuture.completedFuture(Grant.unavailable());
        }
        grant.whenComplete((answer, error) -> {
            Grant g = answer != null ? answer : Grant.slow();
            if (g.status() == Grant.Status.DENIED) {
                long retryMillis = retryMillis(g);
                decision.lastRetryAfterMillis = retryMillis;
                lease.settle(new Outcome.Deferred(TimeUnit.MILLISECONDS.toNanos(retryMillis)));
                if (!decision.result.isDone()) {
                    decide(decision, true);
                }
                return;
            }
            if (g.isSlow()) {
                askAgain(decision, lease);
                return;
            }
            SharedLease sharedLease = new SharedLease(lease, limits, g.isGranted(), g.probe(), decision.request.task());
            if (!decision.result.complete(sharedLease)) {
                // The caller left while Redis answered: give everything back.
                sharedLease.abandon();
            }
        });
    }

    /**
     * Redis did not answer in time: ask again while the request's {@code max_wait} lasts, holding
     * the local lease; then give it back unused and answer 429. Never granted locally.
     *
     * <p>A take that timed out may still run in Redis once it answers again. It then holds a
     * request token (and, with {@code max_concurrent}, a concurrency slot until this replica's
     * lease on the key runs out) that no request uses: the error is on the safe side, never over a
     * limit.
     */
    private void askAgain(Decision decision, Lease lease) {
        long left = decision.deadline - time.nanoTime();
        if (left <= 0 || decision.result.isDone() || closed.get()) {
            lease.settle(new Outcome.Unused());
            decision.lastRetryAfterMillis = Math.max(decision.lastRetryAfterMillis, 1000);
            decision.result.complete(exhausted(decision));
            return;
        }
        try {
            scheduler.schedule(() -> confirm(decision, lease), Math.min(left, RETRY_PAUSE_NANOS), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException shuttingDown) {
            lease.settle(new Outcome.Unused());
            decision.result.complete(exhausted(decision));
        }
    }

    private static long retryMillis(Grant grant) {
        if (grant.retryAfterMillis() > 0) {
            return grant.retryAfterMillis();
        }
        // Disabled has no end the script knows; anything else (a probe already out) frees soon.
        return grant.reason() == Grant.Reason.DISABLED ? DISABLED_RETRY_MILLIS : SharedKeyState.CONCURRENCY_RETRY_MILLIS;
    }

    private static Rejection exhausted(Decision decision) {
        long seconds = Math.max(1, (decision.lastRetryAfterMillis + 999) / 1000);
        return new Rejection(Rejection.Reason.RATE_LIMITED, Duration.ofSeconds(seconds),
                "all keys for task '" + decision.request.task() + "' are exhausted (limits shared with other "
                        + "replicas) after waiting " + decision.maxWait.toMillis() + " ms; retry after " + seconds
                        + " s");
    }

    /** A lease confirmed by Redis (or taken locally while Redis was unavailable). */
    private final class SharedLease implements Lease {
        private final Lease local;
        private final SharedLimits limits;
        private final boolean granted;
        private final boolean probe;
        private final String task;
        private final AtomicBoolean settled = new AtomicBoolean();

        SharedLease(Lease local, SharedLimits limits, boolean granted, boolean probe, String task) {
            this.local = local;
            this.limits = limits;
            this.granted = granted;
            this.probe = probe;
            this.task = task;
        }

        @Override
        public ApiKeyConfig key() {
            return local.key();
        }

        @Override
        public long reservedTokens() {
            return local.reservedTokens();
        }

        @Override
        public long queuedNanos() {
            return local.queuedNanos();
        }

        @Override
        public @Nullable ModelLimits modelLimits() {
            return local.modelLimits();
        }

        @Override
        public void observe(ProviderLimits limits) {
            local.observe(limits);
        }

        @Override
        public void settle(Outcome outcome) {
            Objects.requireNonNull(outcome, "outcome");
            if (settled.compareAndSet(false, true)) {
                local.settle(outcome);
                mirror(outcome);
            }
        }

        /** Never used by a caller: the local lease and the shared take go back whole. */
        void abandon() {
            if (settled.compareAndSet(false, true)) {
                Outcome unused = new Outcome.Unused();
                local.settle(unused);
                mirror(unused);
            }
        }

        /**
         * Sends the outcome's {@link KeyRule} effect, the one the local lease just applied, to the
         * shared state without waiting (nothing to send for a take Redis never granted).
         */
        private void mirror(Outcome outcome) {
            if (!granted) {
                return;
            }
            ApiKeyConfig key = key();
            long reserved = reservedTokens();
            HealthConfig rules = health();
            double cost = 0;
            long used = 0;
            if (outcome instanceof Outcome.Answered a) {
                used = a.usageKnown() ? a.promptTokens() + a.completionTokens() : reserved;
                if (a.usageKnown()) {
                    cost = key.costUsd(a.promptTokens(), a.cachedPromptTokens(), a.completionTokens());
                }
            }
            try {
                shared.settle(key.keyId(), limits, local.modelLimits(), KeyRule.of(outcome, reserved, rules), probe,
                        rules, cost, used, true);
            } catch (IllegalArgumentException unsharable) {
                LOG.debug("outcome of key {} not shared: {}", key.keyId(), unsharable.getMessage());
            }
        }

        private HealthConfig health() {
            KeymuxConfig current = config.get();
            return current.task(task).map(TaskConfig::health).orElse(current.health());
        }

        @Override
        public String toString() {
            return "SharedLease[key_id=" + key().keyId() + ", shared=" + granted + "]";
        }
    }

    // ---------------------------------------------------------------- the shared view

    /**
     * Every key's local state merged with its shared state: the most severe of the two (disabled,
     * circuit open, cooling down, budget spent), and usage, in-flight and spend of all replicas.
     * While Redis is down (or before it was read) the local state alone.
     */
    @Override
    public List<KeyStatus> keyStates() {
        List<KeyStatus> local = delegate.keyStates();
        long now = time.currentTimeMillis();
        if (viewReadAt == Long.MIN_VALUE || now - viewReadAt >= VIEW_REFRESH_MILLIS) {
            refreshView();
        }
        if (view.isEmpty()) {
            return local;
        }
        List<KeyStatus> merged = new ArrayList<>(local.size());
        for (KeyStatus k : local) {
            SharedSnapshot snapshot = view.get(k.keyId());
            merged.add(snapshot == null ? k : merge(k, snapshot));
        }
        return List.copyOf(merged);
    }

    static KeyStatus merge(KeyStatus local, SharedSnapshot shared) {
        KeyStatus.State state = local.state();
        Long until = local.cooldownUntilMillis();
        KeyStatus.State sharedState = KeyStatus.State.ACTIVE;
        Long sharedUntil = null;
        if (shared.disabled()) {
            sharedState = KeyStatus.State.DISABLED;
            Instant probeAt = shared.disabledProbeAt();
            sharedUntil = probeAt != null && probeAt.isAfter(shared.redisTime()) ? probeAt.toEpochMilli() : null;
        } else if (shared.quotaProbeAt() != null) {
            sharedState = KeyStatus.State.QUOTA_EXHAUSTED;
            sharedUntil = shared.quotaProbeAt().isAfter(shared.redisTime()) ? shared.quotaProbeAt().toEpochMilli() : null;
        } else if (shared.circuit() == CircuitState.OPEN
                || (shared.circuit() == CircuitState.HALF_OPEN && shared.probeInFlight())) {
            sharedState = KeyStatus.State.CIRCUIT_OPEN;
            sharedUntil = shared.circuitOpenUntil() == null ? null : shared.circuitOpenUntil().toEpochMilli();
        } else if (shared.cooldownUntil() != null) {
            sharedState = KeyStatus.State.COOLING_DOWN;
            sharedUntil = shared.cooldownUntil().toEpochMilli();
        }
        if (severity(sharedState) > severity(state)) {
            state = sharedState;
            until = sharedUntil;
        }
        KeyStatus.Usage usage = new KeyStatus.Usage(
                Math.max(local.usage().rpm(), shared.requestsLastMinute()),
                Math.max(local.usage().tpm(), shared.tokensLastMinute()),
                (int) Math.max(local.usage().inFlight(), Math.min(Integer.MAX_VALUE, shared.inFlight())));
        return new KeyStatus(local.keyId(), local.upstream(), local.taskTypes(), state, local.limits(), usage, until,
                Math.max(local.spendToday(), shared.spendToday()), local.totalRequests(), local.successes(),
                local.averageLatencyMillis(), local.promptTokens(), local.completionTokens(), local.totalCost(),
                local.models(), local.budgetWarning());
    }

    private static int severity(KeyStatus.State state) {
        return switch (state) {
            case DISABLED -> 5;
            case QUOTA_EXHAUSTED -> 4;
            case CIRCUIT_OPEN -> 3;
            case COOLING_DOWN -> 2;
            case BUDGET_EXHAUSTED -> 1;
            default -> 0;
        };
    }

    /** Reads every key's shared state in the background (one pipelined script per key). */
    private void refreshView() {
        if (closed.get() || !health.up() || !viewRefreshing.compareAndSet(false, true)) {
            return;
        }
        viewReadAt = time.currentTimeMillis();
        List<CompletableFuture<?>> reads = new ArrayList<>();
        for (Map.Entry<String, SharedLimits> e : limitsById.entrySet()) {
            try {
                reads.add(readView(e.getKey(), e.getValue()));
            } catch (IllegalArgumentException unsharable) {
                // A key id Redis cannot namespace has no shared state.
            }
        }
        CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new))
                .whenComplete((done, error) -> viewRefreshing.set(false));
    }

    /** Reads one key's shared state into the view; a changed enabled counter enables it here too. */
    private CompletableFuture<Void> readView(String keyId, SharedLimits limits) {
        return shared.snapshot(keyId, limits).thenAccept(s -> {
            if (s.isEmpty()) {
                view.remove(keyId);
                return;
            }
            SharedSnapshot snapshot = s.get();
            Long seen = enabledSeen.put(keyId, snapshot.enabledCount());
            if (seen != null && seen != snapshot.enabledCount()) {
                // Another replica enabled the key (admin API) or its probe was answered: this
                // replica's own disabled, quota, circuit and cooldown state about it is stale.
                delegate.enable(keyId);
            }
            view.put(keyId, snapshot);
        });
    }

    /**
     * Enables the key here, then in Redis (every replica drops its own copy of the key's state when
     * its shared view next reads the enabled counter, within a second), then reads the key's shared
     * state again so {@code /admin/keys} shows it at once. With Redis down, this replica only.
     */
    @Override
    public CompletableFuture<Boolean> enable(String keyId) {
        Objects.requireNonNull(keyId, "keyId");
        return delegate.enable(keyId).thenCompose(known -> {
            SharedLimits limits = limitsById.get(keyId);
            if (!known || limits == null || !health.up()) {
                return CompletableFuture.completedFuture(known);
            }
            List<ModelLimits> models = config.get().apiKeys().stream().filter(k -> k.keyId().equals(keyId))
                    .findFirst().map(ApiKeyConfig::models).orElse(List.of());
            try {
                return shared.enable(keyId, models).thenCompose(count -> {
                    if (count.isEmpty()) {
                        LOG.warn("key {} enabled on this replica only: Redis did not answer", keyId);
                        return CompletableFuture.completedFuture(true);
                    }
                    enabledSeen.put(keyId, count.getAsLong());
                    return readView(keyId, limits).handle((done, error) -> true);
                });
            } catch (IllegalArgumentException unsharable) {
                return CompletableFuture.completedFuture(true);
            }
        });
    }

    // ---------------------------------------------------------------- local share

    /** Puts the delegate on full limits while Redis is up, else on {@code local_share} of them. */
    private void applyLimits() {
        synchronized (switchLock) {
            if (closed.get()) {
                return;
            }
            KeymuxConfig current = config.get();
            boolean up = health.up();
            double share = up ? 1.0 : current.limits().redis().effectiveLocalShare(liveReplicas);
            if (share == appliedShare && current == appliedConfig) {
                return;
            }
            boolean switched = share != appliedShare;
            delegate.reconfigure(scaled(current, share));
            appliedShare = share;
            appliedConfig = current;
            if (switched && share < 1.0) {
                LOG.info("using local limits at local_share={} ({} live replicas) until Redis answers", share,
                        liveReplicas);
            } else if (switched) {
                LOG.info("using the full limits of every key, shared through Redis");
            }
        }
    }

    /** {@code config} with every key's rates, bursts, concurrency and budget times {@code share}. */
    static KeymuxConfig scaled(KeymuxConfig config, double share) {
        if (share >= 1.0) {
            return config;
        }
        List<ApiKeyConfig> keys = new ArrayList<>();
        for (ApiKeyConfig k : config.apiKeys()) {
            Integer concurrent = k.maxConcurrent();
            Double budget = k.dailyBudgetUsd();
            keys.add(k.toBuilder()
                    .maxRpm(scale(k.maxRpm(), share))
                    .maxTpm(scale(k.maxTpm(), share))
                    .rpmBurst(scale(k.rpmBurst(), share))
                    .tpmBurst(scale(k.tpmBurst(), share))
                    .maxConcurrent(concurrent == null ? null : (int) Math.max(1, (long) Math.floor(concurrent * share)))
                    .dailyBudgetUsd(budget == null ? null : budget * share)
                    .models(scaledModels(k.models(), share))
                    .build());
        }
        return config.toBuilder().apiKeys(keys).build();
    }

    private static List<ModelLimits> scaledModels(List<ModelLimits> models, double share) {
        List<ModelLimits> out = new ArrayList<>();
        for (ModelLimits m : models) {
            out.add(new ModelLimits(m.pattern(), scale(m.maxRpm(), share), scale(m.maxTpm(), share)));
        }
        return out;
    }

    private static @Nullable Long scale(@Nullable Long value, double share) {
        return value == null ? null : Math.max(1L, (long) Math.floor(value * share));
    }

    // ---------------------------------------------------------------- the rest is the local broker's

    /**
     * Adopts {@code next} (full or scaled, as Redis' state says). The Redis connection and backend
     * stay those of the first config: a changed {@code limits} section takes a restart.
     */
    @Override
    public void reconfigure(KeymuxConfig next) {
        config.set(Objects.requireNonNull(next, "next"));
        limitsById = sharedLimits(next);
        applyLimits();
        // A rotated secret shows as active at once, not after the next periodic read.
        viewReadAt = Long.MIN_VALUE;
        view.keySet().retainAll(limitsById.keySet());
    }

    /** Closes the local broker, then the Redis connection and client (waits up to a few seconds). */
    @Override
    public void close() {
        synchronized (switchLock) {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
        }
        tasks.forEach(task -> task.cancel(false));
        delegate.close();
        try {
            health.closeAsync().get(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.debug("Redis connection did not close cleanly: {}", e.toString());
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
