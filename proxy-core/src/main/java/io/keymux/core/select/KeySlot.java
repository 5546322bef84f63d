package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.core.cost.DailySpend;
import io.keymux.core.ratelimit.KeyLimits;
import io.keymux.core.ratelimit.ProviderLimits;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
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
    private static final long MAX_RESERVATION = 1L << 48;
    private static final double LATENCY_ALPHA = 0.3;

    /** Why a key cannot take a request now. */
    enum Block { NONE, DISABLED, CIRCUIT, COOLDOWN, BUDGET, CONCURRENCY, RATE, RAMP, SHARED }

    private volatile ApiKeyConfig config;
    private final KeyLimits limits;

    // Guarded by this.
    private int inFlight;
    private boolean disabled;
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

    KeySlot(ApiKeyConfig config, KeyLimits limits) {
        this.config = config;
        this.limits = limits;
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

    /**
     * Reserves a request token, the tokens and a concurrency slot, or nothing.
     *
     * @return the reserved token count, with {@link #PROBE} set when this lease is the half-open
     *     circuit's probe; {@code -1} when the key cannot take the request now ({@code -2} when only
     *     the post-circuit ramp said no)
     */
    synchronized long tryTake(long estimate, long now, long day, boolean ignoreRamp) {
        if (health(now, day) != Block.NONE || concurrencyFull()) {
            return -1;
        }
        boolean probe = circuit.phase() == Circuit.Phase.OPEN;
        if (!probe && !ignoreRamp && rampStart != Long.MIN_VALUE && !rampAllows(now)) {
            return -2;
        }
        long tokens = reservable(estimate);
        if (limits.tryReserve(tokens) != KeyLimits.RESERVED) {
            return -1;
        }
        inFlight++;
        invalidateLoad();
        if (probe) {
            circuit = circuit.probing();
            return tokens | PROBE;
        }
        return tokens;
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
        if (disabled) {
            return Block.DISABLED;
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
    boolean available(long estimate, long now, long day) {
        return !Double.isNaN(load(estimate, now, day));
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
    synchronized long[] blockage(long estimate, long now, long nowMillis) {
        long day = Math.floorDiv(nowMillis, DAY_MILLIS);
        Block block = health(now, day);
        long wait = 0;
        switch (block) {
            case DISABLED -> wait = Long.MAX_VALUE;
            case CIRCUIT -> wait = circuit.phase() == Circuit.Phase.HALF_OPEN ? Long.MAX_VALUE : circuit.openUntil() - now;
            case COOLDOWN -> wait = cooldownUntil - now;
            case BUDGET -> wait = (DAY_MILLIS - Math.floorMod(nowMillis, DAY_MILLIS)) * 1_000_000L;
            case SHARED -> wait = deferredUntil - now;
            default -> {
                if (concurrencyFull()) {
                    block = Block.CONCURRENCY;
                    wait = Long.MAX_VALUE;
                } else {
                    wait = limits.nanosUntilAvailable(reservable(estimate));
                    block = wait > 0 ? Block.RATE : Block.NONE;
                }
            }
        }
        return new long[] {block.ordinal(), wait};
    }

    /**
     * Applies {@link KeyRule}'s effect of one lease's outcome under the key's lock (the shared
     * backend applies the same effect to the shared state); returns whether the key newly became
     * disabled.
     */
    synchronized boolean settle(KeyEffect effect, boolean probe, HealthConfig health, long now, long day,
            double cost, long latencyNanos) {
        inFlight--;
        invalidateLoad();
        limits.adjustTokens(effect.tokenRefund());
        if (effect.refundRequest()) {
            limits.refundRequest();
        }
        if (effect.cooldownNanos() > 0) {
            long until = now + effect.cooldownNanos();
            // A later 429 never shortens a cooldown already running.
            if (cooldownUntil == Long.MIN_VALUE || until - cooldownUntil > 0) {
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
        boolean newlyDisabled = false;
        if (effect.disable()) {
            newlyDisabled = !disabled;
            disabled = true;
        }
        if (effect.verdict() == KeyEffect.Verdict.SUCCESS) {
            spend.add(day, cost);
            latencyEwmaNanos = latencyKnown
                    ? LATENCY_ALPHA * latencyNanos + (1 - LATENCY_ALPHA) * latencyEwmaNanos
                    : latencyNanos;
            latencyKnown = true;
        }
        return newlyDisabled;
    }

    synchronized void observe(ProviderLimits provider) {
        limits.observe(provider);
        invalidateLoad();
    }

    /** Adopts a reloaded config for the same key id; a new secret or upstream enables a disabled key again. */
    synchronized void reconfigure(ApiKeyConfig next) {
        // Only a new secret or a new upstream can cure a key the upstream refused: a change of
        // limits or price (or the Redis backend scaling them to local_share) leaves it disabled.
        if (!next.apiKey().equals(config.apiKey()) || !next.upstream().equals(config.upstream())) {
            disabled = false;
            // A shared denial (a disabled mark of the old credential, say) no longer holds either.
            deferredUntil = Long.MIN_VALUE;
        }
        limits.reconfigure(next);
        config = next;
        invalidateLoad();
    }

    static void logDisabled(String keyId, int status) {
        log.warn("key {} disabled after upstream status {}; it stays out of rotation until the config changes",
                keyId, status);
    }

    /** A consistent snapshot of the key for the admin API. */
    synchronized KeyStatus status(long now, long nowMillis) {
        long day = Math.floorDiv(nowMillis, DAY_MILLIS);
        KeyStatus.State state;
        Long until = null;
        if (disabled) {
            state = KeyStatus.State.DISABLED;
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
                totalCost.sum());
    }
}
