package io.keymux.server.redis;

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
import java.util.concurrent.CompletableFuture;
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
 * so N replicas together never exceed a key's limits.
 *
 * <p>A decision: the local broker leases a key within its local limits (queueing as usual); then
 * one {@link SharedKeyState#tryTake} round trip takes the request from the key's shared buckets,
 * concurrency, cooldown, circuit and budget.
 *
 * <ul>
 *   <li>Granted: the lease goes to the caller. Its settle settles the local lease, then mirrors the
 *       outcome to Redis without waiting (usage correction and concurrency release, cooldown after
 *       a 429, failure count, {@code disabled} after 401/403, spend).
 *   <li>Denied: the local lease is returned with {@link Outcome.Deferred}, which skips that key
 *       locally until the denial's retry-after, and the local broker is asked again (another key,
 *       or a wait), until the task's {@code max_wait} has passed; then 429 as for local limits.
 *   <li>Unavailable (Redis down): the local lease is used as is.
 * </ul>
 *
 * <p>While Redis is down (and from start until it first answers) the local broker runs on every
 * key's limits scaled by {@code limits.redis.local_share}, so N replicas alone stay near the
 * shared limits; when Redis answers again the full limits return (the local buckets keep their
 * fill proportionally). No request fails because of Redis: every Redis failure reads as
 * "unavailable".
 *
 * <p>A key deferred by Redis shows as {@code active} in {@link #keyStates()}: the local view does
 * not merge the shared cooldowns, circuits and disabled marks (use {@link SharedKeyState#snapshot}).
 */
public final class SharedLimitBroker extends ForwardingKeyBroker {
    private static final Logger LOG = LoggerFactory.getLogger(SharedLimitBroker.class);
    /** How long a key Redis reports disabled is skipped locally before Redis is asked again. */
    private static final long DISABLED_RETRY_MILLIS = 60_000;

    private final TimeSource time;
    private final RedisClient client;
    private final RedisHealth health;
    private final SharedKeyState shared;
    private final EventExecutorGroup scheduler;
    private final AtomicReference<KeymuxConfig> config;
    private final Object switchLock = new Object();
    /** The local_share of the limits the delegate runs on now (1: full). Guarded by switchLock. */
    private double appliedShare;
    /** The config the delegate was last given. Guarded by switchLock. */
    private KeymuxConfig appliedConfig;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * How this replica talks to Redis.
     *
     * @param prefix the namespace of every Redis key (tests use a random one)
     * @param replicaId this replica's name in the shared concurrency leases; unique per live replica
     * @param commandTimeout per Redis command; beyond it the decision uses local limits
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
                ? new SharedLimitBroker(config, time, Settings.defaults())
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
        this.client = RedisClient.create();
        this.scheduler = client.getResources().eventExecutorGroup();
        this.health = RedisHealth.connect(client, RedisURI.create(config.limits().redis().uri()),
                settings.commandTimeout(), settings.minBackoff(), settings.maxBackoff());
        this.shared = SharedKeyState.create(health, settings.prefix(), settings.replicaId(), settings.leaseTtl());
        health.addListener(up -> applyLimits());
        // Redis may have answered before the listener was added.
        applyLimits();
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

    /** Registers {@code keymux_redis_up} (0/1) for {@code broker} if it is a Redis-backed broker. */
    public static void registerMetrics(ProxyMetrics metrics, KeyBroker broker) {
        if (broker instanceof SharedLimitBroker sharedBroker) {
            metrics.redisUp(sharedBroker::redisUp);
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
            lease.settle(new Outcome.Deferred(0));
            return;
        }
        ApiKeyConfig key = lease.key();
        KeyLimits limits = KeyLimits.of(key);
        CompletableFuture<Grant> grant;
        try {
            grant = shared.tryTake(key.keyId(), limits, lease.reservedTokens());
        } catch (IllegalArgumentException unsharable) {
            // A key id Redis cannot namespace (braces): that key stays local.
            LOG.debug("key {} is limited locally only: {}", key.keyId(), unsharable.getMessage());
            grant = CompletableFuture.completedFuture(Grant.unavailable());
        }
        grant.whenComplete((answer, error) -> {
            Grant g = answer != null ? answer : Grant.unavailable();
            if (g.status() == Grant.Status.DENIED) {
                long retryMillis = retryMillis(g);
                decision.lastRetryAfterMillis = retryMillis;
                lease.settle(new Outcome.Deferred(TimeUnit.MILLISECONDS.toNanos(retryMillis)));
                if (!decision.result.isDone()) {
                    decide(decision, true);
                }
                return;
            }
            SharedLease sharedLease = new SharedLease(lease, limits, g.isGranted(), decision.request.task());
            if (!decision.result.complete(sharedLease)) {
                // The caller left while Redis answered: give everything back.
                sharedLease.abandon();
            }
        });
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
        private final KeyLimits limits;
        private final boolean granted;
        private final String task;
        private final AtomicBoolean settled = new AtomicBoolean();

        SharedLease(Lease local, KeyLimits limits, boolean granted, String task) {
            this.local = local;
            this.limits = limits;
            this.granted = granted;
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
        public void observe(ProviderLimits limits) {
            local.observe(limits);
        }

        @Override
        public void settle(Outcome outcome) {
            Objects.requireNonNull(outcome, "outcome");
            if (!settled.compareAndSet(false, true)) {
                return;
            }
            local.settle(outcome);
            try {
                mirror(outcome);
            } catch (IllegalArgumentException unsharable) {
                LOG.debug("outcome of key {} not shared: {}", key().keyId(), unsharable.getMessage());
            }
        }

        /** Never used by a caller: the local lease and the shared take go back whole. */
        void abandon() {
            if (settled.compareAndSet(false, true)) {
                local.settle(new Outcome.Deferred(0));
                if (granted) {
                    shared.settle(key().keyId(), limits, reservedTokens(), 0, true);
                }
            }
        }

        /** Tells Redis, without waiting: every call completes normally, "unavailable" when Redis is down. */
        private void mirror(Outcome outcome) {
            ApiKeyConfig key = key();
            String keyId = key.keyId();
            long reserved = reservedTokens();
            if (outcome instanceof Outcome.Answered a) {
                long used = a.usageKnown() ? a.promptTokens() + a.completionTokens() : reserved;
                releaseShared(keyId, reserved, used);
                shared.recordSuccess(keyId);
                if (a.usageKnown()) {
                    double cost = a.promptTokens() * key.inputTokenCost()
                            + a.completionTokens() * key.outputTokenCost();
                    if (cost > 0) {
                        shared.addSpend(keyId, LocalDate.ofInstant(Instant.ofEpochMilli(time.currentTimeMillis()),
                                ZoneOffset.UTC), cost);
                    }
                }
            } else if (outcome instanceof Outcome.RateLimited r) {
                releaseShared(keyId, reserved, 0);
                Duration wait = r.retryAfter() != null ? r.retryAfter() : health().rateLimitCooldown();
                shared.coolDownUntil(keyId, time.currentTimeMillis() + Math.max(1, wait.toMillis()));
            } else if (outcome instanceof Outcome.ServerError || outcome instanceof Outcome.ConnectFailure
                    || outcome instanceof Outcome.Timeout) {
                releaseShared(keyId, reserved, 0);
                HealthConfig h = health();
                shared.recordFailure(keyId, h.failureThreshold(), Math.max(1, h.circuitCooldown().toMillis()));
            } else if (outcome instanceof Outcome.Unauthorized) {
                releaseShared(keyId, reserved, 0);
                shared.disable(keyId);
            } else {
                // Cancelled or Deferred: nothing learned about the key.
                releaseShared(keyId, reserved, 0);
            }
        }

        private void releaseShared(String keyId, long reserved, long used) {
            if (granted) {
                shared.settle(keyId, limits, reserved, used, true);
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

    // ---------------------------------------------------------------- local share

    /** Puts the delegate on full limits while Redis is up, else on {@code local_share} of them. */
    private void applyLimits() {
        synchronized (switchLock) {
            if (closed.get()) {
                return;
            }
            KeymuxConfig current = config.get();
            boolean up = health.up();
            double share = up ? 1.0 : current.limits().redis().effectiveLocalShare(1);
            if (share == appliedShare && current == appliedConfig) {
                return;
            }
            boolean switched = share != appliedShare;
            delegate.reconfigure(scaled(current, share));
            appliedShare = share;
            appliedConfig = current;
            if (switched && share < 1.0) {
                LOG.info("using local limits at local_share={} until Redis answers", share);
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
            keys.add(new ApiKeyConfig(k.keyId(), k.apiKey(), k.upstream(), k.taskTypes(),
                    scale(k.maxRpm(), share), scale(k.maxTpm(), share), scale(k.rpmBurst(), share),
                    scale(k.tpmBurst(), share),
                    concurrent == null ? null : (int) Math.max(1, (long) Math.floor(concurrent * share)),
                    k.priority(), k.weight(), k.costPerToken(), k.costPerInputToken(), k.costPerOutputToken(),
                    budget == null ? null : budget * share, scaledModels(k.models(), share), k.budgetWarnAt()));
        }
        return new KeymuxConfig(config.server(), config.health(), config.admin(), config.limits(),
                config.upstreams(), config.defaultUpstream(), config.defaultTask(), config.tasks(), keys,
                config.clients());
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
        applyLimits();
    }

    /** Closes the local broker, then the Redis connection and client (waits up to a few seconds). */
    @Override
    public void close() {
        synchronized (switchLock) {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
        }
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
