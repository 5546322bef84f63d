package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.core.cost.DailySpend;
import io.keymux.core.health.OverloadBackoff;
import io.keymux.core.ratelimit.KeyLimits;
import io.keymux.core.ratelimit.ModelBucket;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the broker knows about one key: limits, in-flight count, health and budget (all guarded
 * by this object's monitor, so checking and reserving is one atomic step per key) and counters for
 * the admin API (lock-free). Survives a reload while its {@code key_id} stays.
 */
final class KeySlot {
    private static final Logger log = LoggerFactory.getLogger(KeySlot.class);

    /**
     * After a circuit closes the key ramps back over this window: at a fraction {@code f} of the
     * window it accepts a share {@code f} of the picks that land on it (a deterministic credit
     * counter, no randomness). When no other key can take a request the ramp is ignored, so a
     * recovering key never makes a request wait.
     */
    static final long RAMP_NANOS = 10_000_000_000L;

    static final long DAY_MILLIS = 86_400_000L;

    /** Flag bit in {@link #tryTake}'s result; reservations are capped well below it. */
    static final long PROBE = 1L << 62;
    /**
     * Flag bit in {@link #tryTake}'s result: the lease is the one real request a
     * {@code quota_exhausted} key (or a disabled one, with {@code health.disabled_probe}) gets.
     */
    static final long DORMANT_PROBE = 1L << 61;
    static final long FLAGS = PROBE | DORMANT_PROBE;
    private static final long NONE = Long.MIN_VALUE;
    private static final long MAX_RESERVATION = 1L << 48;
    private static final double LATENCY_ALPHA = 0.3;

    /** Why a key cannot take a request now. */
    enum Block { NONE, DISABLED, CIRCUIT, COOLDOWN, BUDGET, CONCURRENCY, RATE, RAMP, SHARED, QUOTA, OVERLOADED }

    private volatile ApiKeyConfig config;
    private final KeyLimits limits;
    private final TimeSource time;
    private final OverloadBackoff backoff;
    private volatile OverloadBackoff.Upstream upstream;
    /** The key's {@code models} buckets in declaration order; replaced whole on reload. */
    private volatile ModelSlot[] models;

    // Guarded by this.
    private int inFlight;
    private boolean disabled;
    /** With {@code health.disabled_probe}: when a disabled key's next probe may go ({@link #NONE}: never). */
    private long disabledProbeAt = NONE;
    /** {@code quota_exhausted} since the provider said so: when the next probe may go ({@link #NONE}: not exhausted). */
    private long quotaProbeAt = NONE;
    /** Whether the probe of a disabled or quota_exhausted key is out. */
    private boolean dormantProbeOut;
    private long cooldownUntil = Long.MIN_VALUE;
    /** Skipped until then: a limit shared with other replicas had no room ({@link Outcome.Deferred}). */
    private long deferredUntil = Long.MIN_VALUE;
    private Circuit circuit = Circuit.CLOSED;
    private long rampStart = Long.MIN_VALUE;
    private double rampCredit;
    private final DailySpend spend = new DailySpend();
    private double latencyEwmaNanos;
    private boolean latencyKnown;

    // Lock-free cache of load(); see there.
    static final long LOAD_CACHE_NANOS = 1_000_000L;
    private volatile long loadStamp = Long.MIN_VALUE;
    private volatile double cachedLoad;
    private volatile long cachedTokens;
    private volatile long loadDay;

    // Counters for the admin API.
    final SlidingWindow requestWindow = new SlidingWindow();
    final SlidingWindow tokenWindow = new SlidingWindow();
    final LongAdder totalRequests = new LongAdder();
    final LongAdder successes = new LongAdder();
    final LongAdder latencySumNanos = new LongAdder();
    final LongAdder latencyCount = new LongAdder();
    final LongAdder promptTokens = new LongAdder();
    final LongAdder completionTokens = new LongAdder();
    final DoubleAdder totalCost = new DoubleAdder();

    KeySlot(ApiKeyConfig config, KeyLimits limits, TimeSource time, OverloadBackoff backoff) {
        this.config = config;
        this.limits = limits;
        this.time = time;
        this.backoff = backoff;
        this.upstream = backoff.upstream(config.upstream());
        ModelBucket[] buckets = ModelBucket.of(config.models(), time);
        ModelSlot[] slots = new ModelSlot[buckets.length];
        for (int i = 0; i < buckets.length; i++) {
            slots[i] = new ModelSlot(buckets[i]);
        }
        this.models = slots;
    }

    /** The upstream this key belongs to, with its overload backoff. */
    OverloadBackoff.Upstream upstream() {
        return upstream;
    }

    /** The {@code models} bucket a request for {@code model} uses here, or {@code null}: key-wide only. */
    @Nullable ModelSlot modelFor(@Nullable String model) {
        ModelSlot[] slots = models;
        if (model == null || slots.length == 0) {
            return null;
        }
        for (ModelSlot m : slots) {
            if (m.bucket.matches(model)) {
                return m;
            }
        }
        return null;
    }

    ApiKeyConfig config() {
        return config;
    }

    String keyId() {
        return config.keyId();
    }

    /** Tokens a request estimated at {@code estimate} reserves here: at most the bucket capacity. */
    long reservable(long estimate) {
        return Math.min(Math.min(Math.max(0, estimate), MAX_RESERVATION), limits.maxReservableTokens());
    }

    /** {@link #reservable(long)}, also capped by the model bucket's capacity. */
    private long reservable(long estimate, @Nullable ModelSlot m) {
        long tokens = reservable(estimate);
        return m == null ? tokens : Math.min(tokens, m.bucket.limits().maxReservableTokens());
    }

    /**
     * Reserves a request token, the tokens and a concurrency slot, or nothing.
     *
     * @return the reserved token count, with {@link #PROBE} set when this lease is the half-open
     *     circuit's probe; {@code -1} when the key cannot take the request now ({@code -2} when only
     *     the post-circuit ramp said no)
     */
    synchronized long tryTake(long estimate, long now, long day, boolean ignoreRamp, @Nullable ModelSlot m) {
        if (health(now, day) != Block.NONE || concurrencyFull() || (m != null && m.cooling(now))) {
            return -1;
        }
        boolean probe = circuit.phase() == Circuit.Phase.OPEN;
        // health() let a disabled or quota_exhausted key through: its probe is due.
        boolean dormantProbe = disabled || quotaProbeAt != NONE;
        if (!probe && !dormantProbe && !ignoreRamp && rampStart != Long.MIN_VALUE && !rampAllows(now)) {
            return -2;
        }
        long tokens = reservable(estimate, m);
        if (limits.tryReserve(tokens) != KeyLimits.RESERVED) {
            return -1;
        }
        if (m != null && m.bucket.limits().tryReserve(tokens) != KeyLimits.RESERVED) {
            limits.refundRequest();
            limits.adjustTokens(tokens);
            return -1;
        }
        inFlight++;
        invalidateLoad();
        long result = tokens;
        if (dormantProbe) {
            dormantProbeOut = true;
            result |= DORMANT_PROBE;
        }
        if (probe) {
            circuit = circuit.probing();
            result |= PROBE;
        }
        return result;
    }

    private boolean rampAllows(long now) {
        long elapsed = now - rampStart;
        if (elapsed >= RAMP_NANOS) {
            rampStart = Long.MIN_VALUE;
            return true;
        }
        rampCredit += Math.max(0.1, (double) elapsed / RAMP_NANOS);
        if (rampCredit >= 1.0) {
            rampCredit -= 1.0;
            return true;
        }
        return false;
    }

    private boolean concurrencyFull() {
        Integer max = config.maxConcurrent();
        return max != null && inFlight >= max;
    }

    /** Health and budget only (no limits): what makes a key unusable regardless of its buckets. */
    private Block health(long now, long day) {
        if (disabled && (disabledProbeAt == NONE || dormantProbeOut || now - disabledProbeAt < 0)) {
            return Block.DISABLED;
        }
        if (!disabled && quotaProbeAt != NONE && (dormantProbeOut || now - quotaProbeAt < 0)) {
            return Block.QUOTA;
        }
        if (upstream.overloaded(now)) {
            return Block.OVERLOADED;
        }
        if (circuitBlocks(now)) {
            return Block.CIRCUIT;
        }
        if (cooldownUntil != Long.MIN_VALUE && now - cooldownUntil < 0) {
            return Block.COOLDOWN;
        }
        Double budget = config.dailyBudgetUsd();
        if (budget != null && spend.spent(day) >= budget) {
            return Block.BUDGET;
        }
        if (deferredUntil != Long.MIN_VALUE && now - deferredUntil < 0) {
            return Block.SHARED;
        }
        return Block.NONE;
    }

    private boolean circuitBlocks(long now) {
        return circuit.phase() == Circuit.Phase.HALF_OPEN
                || (circuit.phase() == Circuit.Phase.OPEN && now - circuit.openUntil() < 0);
    }

    /** Whether a request of {@code estimate} tokens could be taken now (no reservation). */
    boolean available(long estimate, long now, long day, @Nullable ModelSlot m) {
        return !Double.isNaN(load(estimate, now, day, m));
    }

    /** {@link #load(long, long, long)} with the model bucket's room and utilisation folded in. */
    double load(long estimate, long now, long day, @Nullable ModelSlot m) {
        double load = load(estimate, now, day);
        if (m == null || Double.isNaN(load)) {
            return load;
        }
        return modelLoad(load, estimate, now, m);
    }

    private synchronized double modelLoad(double keyLoad, long estimate, long now, ModelSlot m) {
        KeyLimits b = m.bucket.limits();
        if (m.cooling(now) || b.availableRequests() < 1 || reservable(estimate, m) > b.availableTokens()) {
            return Double.NaN;
        }
        return Math.max(keyLoad, Math.max(b.requestUtilisation(), b.tokenUtilisation()));
    }

    /** Whether the key has spent its {@code budget_warn_at} share of today's budget. */
    boolean pastBudgetWarning(long day) {
        ApiKeyConfig c = config;
        Double warnAt = c.budgetWarnAt();
        Double budget = c.dailyBudgetUsd();
        if (warnAt == null || budget == null) {
            return false;
        }
        synchronized (this) {
            return spend.spent(day) >= warnAt * budget;
        }
    }

    /**
     * Utilisation 0..1 (max of rpm, tpm and concurrency fractions), or NaN when the key cannot take a
     * request of {@code estimate} tokens now. Strategies that compare every key call this for each
     * one, so the answer is cached without a lock for up to {@value #LOAD_CACHE_NANOS} ns and dropped
     * whenever the key's state changes (take, settle, release, provider headers, reload); a stale
     * answer only affects which key is tried, since {@link #tryTake} decides atomically.
     */
    double load(long estimate, long now, long day) {
        long stamp = loadStamp;
        if (stamp == Long.MIN_VALUE || now - stamp >= LOAD_CACHE_NANOS || now - stamp < 0 || day != loadDay) {
            refreshLoad(now, day);
        }
        double load = cachedLoad;
        if (Double.isNaN(load) || reservable(estimate) > cachedTokens) {
            return Double.NaN;
        }
        return load;
    }

    private synchronized void refreshLoad(long now, long day) {
        double load;
        long tokens = 0;
        if (health(now, day) != Block.NONE || concurrencyFull() || limits.availableRequests() < 1) {
            load = Double.NaN;
        } else {
            tokens = limits.availableTokens();
            Integer max = config.maxConcurrent();
            load = Math.max(limits.requestUtilisation(), limits.tokenUtilisation());
            if (max != null) {
                load = Math.max(load, (double) inFlight / max);
            }
        }
        cachedLoad = load;
        cachedTokens = tokens;
        loadDay = day;
        loadStamp = now;
    }

    private void invalidateLoad() {
        loadStamp = Long.MIN_VALUE;
    }

    synchronized boolean disabled() {
        return disabled;
    }

    /** Latency EWMA in nanoseconds; 0 before the first answer, so new keys are tried first. */
    synchronized double latencyEwma() {
        return latencyKnown ? latencyEwmaNanos : 0;
    }

    /** Why the key cannot take the request, and the nanoseconds until it may (MAX_VALUE: unknown). */
    synchronized long[] blockage(long estimate, long now, long nowMillis, @Nullable ModelSlot m) {
        long day = Math.floorDiv(nowMillis, DAY_MILLIS);
        Block block = health(now, day);
        long wait = 0;
        switch (block) {
            case DISABLED -> wait = disabledProbeAt == NONE || dormantProbeOut ? Long.MAX_VALUE : disabledProbeAt - now;
            case QUOTA -> wait = dormantProbeOut ? Long.MAX_VALUE : quotaProbeAt - now;
            case OVERLOADED -> wait = upstream.remainingNanos(now);
            case CIRCUIT -> wait = circuit.phase() == Circuit.Phase.HALF_OPEN ? Long.MAX_VALUE : circuit.openUntil() - now;
            case COOLDOWN -> wait = cooldownUntil - now;
            case BUDGET -> wait = (DAY_MILLIS - Math.floorMod(nowMillis, DAY_MILLIS)) * 1_000_000L;
            case SHARED -> wait = deferredUntil - now;
            default -> {
                if (concurrencyFull()) {
                    block = Block.CONCURRENCY;
                    wait = Long.MAX_VALUE;
                } else if (m != null && m.cooling(now)) {
                    block = Block.COOLDOWN;
                    wait = m.cooldownUntil - now;
                } else {
                    long tokens = reservable(estimate, m);
                    wait = limits.nanosUntilAvailable(tokens);
                    if (m != null) {
                        wait = Math.max(wait, m.bucket.limits().nanosUntilAvailable(tokens));
                    }
                    block = wait > 0 ? Block.RATE : Block.NONE;
                }
            }
        }
        return new long[] {block.ordinal(), wait};
    }

    /** What a settle changed that the broker logs or acts on. */
    enum Change { NONE, DISABLED, QUOTA_EXHAUSTED, RESTORED }

    /**
     * Applies {@link KeyRule}'s effect of one lease's outcome under the key's lock (the shared
     * backend applies the same effect to the shared state); returns what newly changed about the key.
     *
     * @param flags the lease's {@link #PROBE} and {@link #DORMANT_PROBE} bits
     * @param m the lease's {@code models} bucket, or {@code null}
     */
    synchronized Change settle(KeyEffect effect, long flags, @Nullable ModelSlot m, HealthConfig health, long now,
            long day, double cost, long latencyNanos) {
        inFlight--;
        invalidateLoad();
        boolean probe = (flags & PROBE) != 0;
        boolean dormantProbe = (flags & DORMANT_PROBE) != 0;
        adjustTokens(m, effect.tokenRefund());
        if (effect.refundRequest()) {
            refundRequest(m);
        }
        if (effect.cooldownNanos() > 0) {
            long until = now + effect.cooldownNanos();
            if (effect.modelCooldown() && m != null) {
                // The provider named the model: only that bucket cools down.
                m.coolUntil(until);
            } else if (cooldownUntil == Long.MIN_VALUE || until - cooldownUntil > 0) {
                // A later 429 never shortens a cooldown already running.
                cooldownUntil = until;
            }
        }
        if (effect.deferNanos() > 0) {
            long until = now + effect.deferNanos();
            if (deferredUntil == Long.MIN_VALUE || until - deferredUntil > 0) {
                deferredUntil = until;
            }
        }
        Circuit before = circuit;
        circuit = circuit.next(effect.verdict(), probe, health.failureThreshold(), now,
                health.circuitCooldown().toNanos());
        if (circuit.phase() == Circuit.Phase.CLOSED && before.phase() != Circuit.Phase.CLOSED) {
            rampStart = now;
            rampCredit = 0;
        } else if (circuit.phase() != Circuit.Phase.CLOSED) {
            rampStart = Long.MIN_VALUE;
        }
        if (effect.verdict() == KeyEffect.Verdict.SUCCESS) {
            spend.add(day, cost);
            latencyEwmaNanos = latencyKnown
                    ? LATENCY_ALPHA * latencyNanos + (1 - LATENCY_ALPHA) * latencyEwmaNanos
                    : latencyNanos;
            latencyKnown = true;
        }
        Change change = Change.NONE;
        if (effect.disable()) {
            change = disabled ? Change.NONE : Change.DISABLED;
            disabled = true;
            quotaProbeAt = NONE;
            dormantProbeOut = false;
            Duration every = health.disabledProbe();
            disabledProbeAt = every == null ? NONE : now + Math.max(1, every.toNanos());
        } else if (effect.quotaExhausted()) {
            change = quotaProbeAt == NONE || disabled ? Change.QUOTA_EXHAUSTED : Change.NONE;
            disabled = false;
            disabledProbeAt = NONE;
            dormantProbeOut = false;
            quotaProbeAt = now + Math.max(1, health.quotaProbe().toNanos());
        } else if (dormantProbe && effect.accountAnswered()) {
            change = restore();
        } else {
            // A failure waits one more probe interval; no verdict (cancel, overload) lets the next request probe.
            endDormantProbe(dormantProbe, effect.verdict() == KeyEffect.Verdict.FAILURE ? health : null, now);
        }
        return change;
    }

    /** A dormant key's probe was answered: the account works again. */
    private Change restore() {
        boolean was = disabled || quotaProbeAt != NONE;
        disabled = false;
        disabledProbeAt = NONE;
        quotaProbeAt = NONE;
        dormantProbeOut = false;
        return was ? Change.RESTORED : Change.NONE;
    }

    /**
     * A dormant key's probe ended without a verdict; with {@code health} the next probe waits one
     * more interval (the provider failed), without it the next request may probe at once.
     */
    private void endDormantProbe(boolean dormantProbe, @Nullable HealthConfig health, long now) {
        if (!dormantProbe) {
            return;
        }
        dormantProbeOut = false;
        if (health != null) {
            if (disabled && disabledProbeAt != NONE && health.disabledProbe() != null) {
                disabledProbeAt = now + Math.max(1, health.disabledProbe().toNanos());
            } else if (!disabled && quotaProbeAt != NONE) {
                quotaProbeAt = now + Math.max(1, health.quotaProbe().toNanos());
            }
        }
    }

    private void adjustTokens(@Nullable ModelSlot m, long delta) {
        limits.adjustTokens(delta);
        if (m != null) {
            m.bucket.limits().adjustTokens(delta);
        }
    }

    private void refundRequest(@Nullable ModelSlot m) {
        limits.refundRequest();
        if (m != null) {
            m.bucket.limits().refundRequest();
        }
    }

    /**
     * What the provider's headers say: they describe the request's model, so with a {@code models}
     * bucket for it they lower that bucket, otherwise the key-wide ones.
     */
    synchronized void observe(ProviderLimits provider, @Nullable ModelSlot m) {
        if (m != null) {
            m.bucket.limits().observe(provider);
        } else {
            limits.observe(provider);
        }
        invalidateLoad();
    }

    /**
     * {@code POST /admin/keys/{key_id}/enable}: the operator says the key works. Clears
     * {@code disabled}, {@code quota_exhausted}, an open circuit and a cooldown (the key's and its
     * {@code models} buckets'), and a shared denial; returns whether any of them held.
     */
    synchronized boolean enable(long now) {
        boolean held = disabled || quotaProbeAt != NONE || circuit.phase() != Circuit.Phase.CLOSED
                || (cooldownUntil != Long.MIN_VALUE && now - cooldownUntil < 0);
        disabled = false;
        disabledProbeAt = NONE;
        quotaProbeAt = NONE;
        dormantProbeOut = false;
        circuit = Circuit.CLOSED;
        rampStart = Long.MIN_VALUE;
        cooldownUntil = Long.MIN_VALUE;
        deferredUntil = Long.MIN_VALUE;
        for (ModelSlot m : models) {
            m.cooldownUntil = Long.MIN_VALUE;
        }
        invalidateLoad();
        return held;
    }

    /** Adopts a reloaded config for the same key id; a new secret or upstream enables a disabled key again. */
    synchronized void reconfigure(ApiKeyConfig next) {
        // Only a new secret or a new upstream can cure a key the upstream refused: a change of
        // limits or price (or the Redis backend scaling them to local_share) leaves it disabled.
        if (!next.apiKey().equals(config.apiKey()) || !next.upstream().equals(config.upstream())) {
            disabled = false;
            disabledProbeAt = NONE;
            quotaProbeAt = NONE;
            dormantProbeOut = false;
            // A shared denial (a disabled mark of the old credential, say) no longer holds either.
            deferredUntil = Long.MIN_VALUE;
        }
        limits.reconfigure(next);
        ModelSlot[] current = models;
        ModelBucket[] buckets = new ModelBucket[current.length];
        Map<ModelBucket, ModelSlot> byBucket = new IdentityHashMap<>();
        for (int i = 0; i < current.length; i++) {
            buckets[i] = current[i].bucket;
            byBucket.put(current[i].bucket, current[i]);
        }
        ModelBucket[] nextBuckets = ModelBucket.reconfigure(buckets, next.models(), time);
        ModelSlot[] nextSlots = new ModelSlot[nextBuckets.length];
        for (int i = 0; i < nextBuckets.length; i++) {
            ModelSlot kept = byBucket.get(nextBuckets[i]);
            nextSlots[i] = kept != null ? kept : new ModelSlot(nextBuckets[i]);
        }
        models = nextSlots;
        upstream = backoff.upstream(next.upstream());
        config = next;
        invalidateLoad();
    }

    static void logChange(String keyId, Change change, HealthConfig health) {
        if (change == Change.QUOTA_EXHAUSTED) {
            log.warn("key {} is out of quota (quota_exhausted): skipped, probed with one request every {}; "
                    + "top up its account", keyId, health.quotaProbe());
        } else if (change == Change.RESTORED) {
            log.info("key {} answered its probe and is back in rotation", keyId);
        }
    }

    static void logOverloaded(String upstream, int status, Duration backoff) {
        log.info("upstream {} said it is overloaded ({}); its keys get no request for {}", upstream, status, backoff);
    }

    static void logEnabled(String keyId) {
        log.info("key {} enabled through the admin API: back in rotation", keyId);
    }

    static void logDisabled(String keyId, int status, HealthConfig health) {
        Duration every = health.disabledProbe();
        log.warn("key {} disabled: the upstream answered {} saying the key itself is bad; {}, or rotate its secret, "
                + "or POST /admin/keys/{}/enable", keyId, status,
                every == null ? "it is not probed (health.disabled_probe: off)"
                        : "it gets one real request every " + every, keyId);
    }

    /** A consistent snapshot of the key for the admin API. */
    synchronized KeyStatus status(long now, long nowMillis) {
        long day = Math.floorDiv(nowMillis, DAY_MILLIS);
        KeyStatus.State state;
        Long until = null;
        if (disabled) {
            state = KeyStatus.State.DISABLED;
            if (disabledProbeAt != NONE && !dormantProbeOut) {
                until = nowMillis + Math.max(0, (disabledProbeAt - now) / 1_000_000L);
            }
        } else if (quotaProbeAt != NONE) {
            state = KeyStatus.State.QUOTA_EXHAUSTED;
            if (!dormantProbeOut) {
                until = nowMillis + Math.max(0, (quotaProbeAt - now) / 1_000_000L);
            }
        } else if (circuitBlocks(now)) {
            state = KeyStatus.State.CIRCUIT_OPEN;
            until = nowMillis + Math.max(0, (circuit.openUntil() - now) / 1_000_000L);
        } else if (cooldownUntil != Long.MIN_VALUE && now - cooldownUntil < 0) {
            state = KeyStatus.State.COOLING_DOWN;
            until = nowMillis + (cooldownUntil - now + 999_999L) / 1_000_000L;
        } else if (health(now, day) == Block.BUDGET) {
            state = KeyStatus.State.BUDGET_EXHAUSTED;
        } else {
            state = KeyStatus.State.ACTIVE;
        }
        ApiKeyConfig c = config;
        Map<String, KeyStatus.ModelStatus> modelStates = new LinkedHashMap<>();
        for (ModelSlot m : models) {
            boolean cooling = m.cooling(now);
            modelStates.put(m.bucket.pattern(), new KeyStatus.ModelStatus(
                    cooling ? KeyStatus.State.COOLING_DOWN : KeyStatus.State.ACTIVE,
                    new KeyStatus.Limits(m.bucket.config().maxRpm(), m.bucket.config().maxTpm(), null),
                    new KeyStatus.Usage(m.requestWindow.sum(now), m.tokenWindow.sum(now), 0),
                    cooling ? Long.valueOf(nowMillis + (m.cooldownUntil - now + 999_999L) / 1_000_000L) : null));
        }
        Double warnAt = c.budgetWarnAt();
        Double budget = c.dailyBudgetUsd();
        boolean warning = warnAt != null && budget != null && spend.spent(day) >= warnAt * budget;
        long count = latencyCount.sum();
        return new KeyStatus(
                c.keyId(),
                c.upstream(),
                c.taskTypes(),
                state,
                new KeyStatus.Limits(c.maxRpm(), c.maxTpm(), c.maxConcurrent()),
                new KeyStatus.Usage(requestWindow.sum(now), tokenWindow.sum(now), inFlight),
                until,
                spend.spent(day),
                totalRequests.sum(),
                successes.sum(),
                count == 0 ? 0 : latencySumNanos.sum() / 1e6 / count,
                promptTokens.sum(),
                completionTokens.sum(),
                totalCost.sum(),
                modelStates,
                warning);
    }
}
