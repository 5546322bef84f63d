package io.keymux.server.sharedstate;

import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.ModelLimits;
import io.keymux.core.select.KeyEffect;
import io.keymux.core.select.KeyRule;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The limit state of upstream keys, shared by every replica through Redis so that together they
 * never exceed a key's limits.
 *
 * <p>{@link #tryTake} is one {@code EVALSHA} (falling back to {@code EVAL} on {@code NOSCRIPT})
 * that checks the {@code disabled} mark, the daily budget, the cooldown, the circuit, the
 * concurrency count and the RPM and TPM buckets, and takes all of them or none. Time comes from
 * Redis' {@code TIME} inside the scripts, so replicas need no synchronised clocks.
 *
 * <p>Redis keys, for a prefix {@code keymux} and a key id {@code k1} (the braces make {@code k1}
 * the Cluster hash tag, so all of a key's state is in one slot; values hold no secret):
 *
 * <ul>
 *   <li>{@code keymux:{k1}:bucket}: hash {@code rpm}, {@code tpm} (tokens left), {@code ts};
 *       expires when both buckets would be full again
 *   <li>{@code keymux:{k1}:inflight} and {@code keymux:{k1}:leases}: in-flight requests per
 *       replica and each replica's lease deadline
 *   <li>{@code keymux:{k1}:cooldown}: deadline in epoch ms, expiring at the deadline
 *   <li>{@code keymux:{k1}:circuit} and {@code keymux:{k1}:probe}: failure count and open
 *       deadline; the replica holding the half-open probe
 *   <li>{@code keymux:{k1}:disabled}: the fingerprint of the credential the upstream refused
 *       ({@link SharedLimits#credential()}); a take with another credential drops it;
 *       {@code keymux:{k1}:disabled_probe}: when its next probe may go (epoch ms)
 *   <li>{@code keymux:{k1}:enabled}: a counter bumped when the key is enabled through the admin
 *       API or a probe's answer restored it, so every replica drops its own copy of that state
 *   <li>{@code keymux:{k1}:spend:2026-11-22} (USD, kept two days); {@code keymux:{k1}:usage}:
 *       requests and tokens per 10 s slot, for the admin view's last minute
 *   <li>{@code keymux:replicas}: replica id to last heartbeat, for {@code local_share: auto}
 * </ul>
 *
 * <p>A settle applies {@link KeyRule}'s effect, the same value the local broker applies, so a 429,
 * a failure or a 401 means the same to the shared state as to each replica's own.
 *
 * <p><b>Concurrency slots survive a crashed replica only for a lease.</b> Each replica counts its
 * own in-flight requests in the {@code inflight} hash and holds a lease in {@code leases} that
 * every take and settle of that replica on that key pushes {@code leaseTtl} (10 min by default)
 * into the future. A take first drops the counts of replicas whose lease ran out. So a replica
 * that dies with requests in flight blocks those slots for at most {@code leaseTtl}, even while
 * other replicas keep the key busy. Choose {@code leaseTtl} longer than the longest request: a
 * live replica whose only request on a key outlasts it loses that count (the cap is briefly
 * undercounted; the settle that follows never goes below zero).
 *
 * <p>Every method returns at once. A command Redis did not answer in time completes with a "slow"
 * value (retry; never decide locally on it). While {@link RedisHealth} is DOWN, or when the
 * connection was lost, the future completes normally with an "unavailable" value ({@link Grant#unavailable()},
 * {@code false}, {@link CircuitState#UNKNOWN}, empty) and the caller uses local limits.
 */
public final class SharedKeyState {
    /** The namespace in front of every Redis key unless another is given. */
    public static final String DEFAULT_PREFIX = "keymux";
    /** How long a replica's concurrency slots outlive its last take or settle on a key. */
    public static final Duration DEFAULT_LEASE_TTL = Duration.ofMinutes(10);
    /** The retry-after of a concurrency denial: a slot frees when some request ends, time unknown. */
    public static final long CONCURRENCY_RETRY_MILLIS = 100;

    /** Width of one slot of the shared usage counters (six slots make the admin view's minute). */
    static final long USAGE_SLOT_MILLIS = 10_000;
    /** A replica not heard from for this long no longer counts as alive. */
    public static final Duration REPLICA_WINDOW = Duration.ofSeconds(30);

    private static final Logger LOG = LoggerFactory.getLogger(SharedKeyState.class);
    private static final LuaScript TRY_TAKE = LuaScript.load("try_take");
    private static final LuaScript SETTLE = LuaScript.load("settle");
    private static final LuaScript SNAPSHOT = LuaScript.load("snapshot");
    private static final LuaScript HEARTBEAT = LuaScript.load("heartbeat");
    private static final LuaScript ENABLE = LuaScript.load("enable");
    private static final List<LuaScript> SCRIPTS = List.of(TRY_TAKE, SETTLE, SNAPSHOT, HEARTBEAT, ENABLE);

    private final RedisHealth health;
    private final String prefix;
    private final String replicaId;
    private final String leaseTtlMillis;
    /** Redis' clock minus this replica's, from the last heartbeat; MIN_VALUE before one. */
    private volatile long redisOffsetMillis = Long.MIN_VALUE;

    private SharedKeyState(RedisHealth health, String prefix, String replicaId, Duration leaseTtl) {
        this.health = health;
        this.prefix = prefix;
        this.replicaId = replicaId;
        this.leaseTtlMillis = Long.toString(leaseTtl.toMillis());
    }

    /** Shared state under {@code keymux:}, with a random replica id and a 10 min lease. */
    public static SharedKeyState create(RedisHealth health) {
        return create(health, DEFAULT_PREFIX, UUID.randomUUID().toString(), DEFAULT_LEASE_TTL);
    }

    /**
     * Shared state under {@code prefix:}. {@code replicaId} names this replica's concurrency
     * lease (unique per live replica; a pod name does). Scripts are loaded now if Redis is UP
     * and again each time it comes back.
     */
    public static SharedKeyState create(RedisHealth health, String prefix, String replicaId, Duration leaseTtl) {
        Objects.requireNonNull(health, "health");
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(replicaId, "replicaId");
        if (prefix.isEmpty() || prefix.contains("{") || prefix.contains("}")) {
            throw new IllegalArgumentException("prefix: " + prefix + " (expected: non-empty, without '{' or '}')");
        }
        if (leaseTtl.toMillis() <= 0) {
            throw new IllegalArgumentException("leaseTtl: " + leaseTtl + " (expected: > 0)");
        }
        SharedKeyState state = new SharedKeyState(health, prefix, replicaId, leaseTtl);
        health.addListener(up -> {
            if (up) {
                state.loadScripts();
            }
        });
        state.loadScripts();
        return state;
    }

    /**
     * Takes one request and {@code tokens} tokens of {@code keyId}'s capacity, and one
     * concurrency slot, if everything has room; else nothing, with the reason and when to retry.
     * A granted request must be followed by one {@link #settle}. Completes with {@link Grant#slow()}
     * when Redis did not answer in time (the take may or may not have happened) and with
     * {@link Grant#unavailable()} while Redis is down.
     */
    public CompletableFuture<Grant> tryTake(String keyId, SharedLimits limits, long tokens) {
        return tryTake(keyId, limits, tokens, null, HealthConfig.DEFAULT_QUOTA_PROBE,
                HealthConfig.DEFAULT_DISABLED_PROBE);
    }

    /** {@link #tryTake(String, SharedLimits, long, ModelLimits, Duration, Duration)} with the default disabled probe. */
    public CompletableFuture<Grant> tryTake(String keyId, SharedLimits limits, long tokens,
            @Nullable ModelLimits model, Duration quotaProbe) {
        return tryTake(keyId, limits, tokens, model, quotaProbe, HealthConfig.DEFAULT_DISABLED_PROBE);
    }

    /**
     * {@link #tryTake(String, SharedLimits, long)} for a request that also uses the key's
     * {@code models} bucket {@code model} ({@code null}: key-wide limits only); a
     * {@code quota_exhausted} key is denied until its next probe time, and the request that takes
     * the probe moves that time {@code quotaProbe} on, so one replica probes per interval. A
     * disabled key is probed likewise every {@code disabledProbe} ({@code null}: {@code off}, never).
     */
    public CompletableFuture<Grant> tryTake(String keyId, SharedLimits limits, long tokens,
            @Nullable ModelLimits model, Duration quotaProbe, @Nullable Duration disabledProbe) {
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(quotaProbe, "quotaProbe");
        if (tokens < 0) {
            throw new IllegalArgumentException("tokens: " + tokens + " (expected: >= 0)");
        }
        String[] keys = keys(keyId, model);
        String[] args = limitArgs(new ScriptArgs(18), limits)
                .put("max_concurrent", arg(limits.maxConcurrent()))
                .put("daily_budget_usd", arg(limits.dailyBudgetUsd()))
                .put("tokens", tokens)
                .put("replica", replicaId)
                .put("lease_ttl_ms", leaseTtlMillis)
                .put("concurrency_retry_ms", CONCURRENCY_RETRY_MILLIS)
                .put("spend_prefix", key(keyId, "spend:"))
                .put("credential", limits.credential())
                .put("usage_slot_ms", USAGE_SLOT_MILLIS)
                .put("expires_at", expiresAt())
                .put("model_rpm", model == null ? "" : arg(model.maxRpm()))
                .put("model_tpm", model == null ? "" : arg(model.maxTpm()))
                .put("quota_probe_ms", Math.max(1, quotaProbe.toMillis()))
                .put("disabled_probe_ms", millisOrUnset(disabledProbe))
                .toArray();
        return eval(TRY_TAKE, ScriptOutputType.MULTI, keys, args, SharedKeyState::toGrant, Grant.unavailable(),
                Grant.slow());
    }

    /**
     * Applies {@code effect} ({@link KeyRule}'s effect of a granted request's outcome, the same
     * value the local broker applies) to {@code keyId}'s shared state in one round trip: the TPM
     * correction and request refund, the cooldown, the circuit (with {@code probe}: the grant was
     * the half-open probe), the {@code disabled} mark for {@code limits}' credential, the spend
     * ({@code costUsd}) and the usage counters ({@code usedTokens}); with {@code releaseConcurrency},
     * the concurrency slot. Completes with {@code true} when Redis applied it.
     */
    public CompletableFuture<Boolean> settle(String keyId, SharedLimits limits, KeyEffect effect, boolean probe,
            HealthConfig rules, double costUsd, long usedTokens, boolean releaseConcurrency) {
        return settle(keyId, limits, null, effect, probe, rules, costUsd, usedTokens, releaseConcurrency);
    }

    /**
     * {@link #settle(String, SharedLimits, KeyEffect, boolean, HealthConfig, double, long, boolean)}
     * for a request that also used the {@code models} bucket {@code model}: its reservation is
     * corrected too, and a cooldown naming the model ({@link KeyEffect#modelCooldown()}) cools that
     * bucket only. A {@link KeyEffect#quotaExhausted()} effect makes the key {@code quota_exhausted}
     * on every replica until {@code rules.quotaProbe()} from now; {@link KeyEffect#accountAnswered()}
     * ends it.
     */
    public CompletableFuture<Boolean> settle(String keyId, SharedLimits limits, @Nullable ModelLimits model,
            KeyEffect effect, boolean probe, HealthConfig rules, double costUsd, long usedTokens,
            boolean releaseConcurrency) {
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(effect, "effect");
        Objects.requireNonNull(rules, "rules");
        if (!Double.isFinite(costUsd)) {
            throw new IllegalArgumentException("costUsd: " + costUsd + " (expected: a finite number)");
        }
        return eval(SETTLE, ScriptOutputType.INTEGER, keys(keyId, model),
                settleArgs(keyId, limits, model, effect, probe, rules, costUsd, usedTokens, releaseConcurrency),
                reply -> true, false, false);
    }

    /**
     * The one place a settle's {@link KeyEffect} becomes {@code settle.lua}'s arguments, each by its
     * name (the script's header says what each means).
     */
    private String[] settleArgs(String keyId, SharedLimits limits, @Nullable ModelLimits model, KeyEffect effect,
            boolean probe, HealthConfig rules, double costUsd, long usedTokens, boolean releaseConcurrency) {
        return limitArgs(new ScriptArgs(24), limits)
                .put("token_refund", effect.tokenRefund())
                .flag("refund_request", effect.refundRequest())
                .flag("release_slot", releaseConcurrency)
                .put("replica", replicaId)
                .put("lease_ttl_ms", leaseTtlMillis)
                .put("cooldown_ms", ceilMillis(effect.cooldownNanos()))
                .put("verdict", effect.verdict().wireName())
                .flag("probe", probe)
                .put("failure_threshold", rules.failureThreshold())
                .put("circuit_cooldown_ms", Math.max(1, rules.circuitCooldown().toMillis()))
                .put("disable_credential", effect.disable() ? limits.credential() : "")
                // As Java writes it: INCRBYFLOAT gets this string, never a Lua number.
                .put("cost_usd", Double.toString(costUsd))
                .put("spend_prefix", key(keyId, "spend:"))
                .put("used_tokens", usedTokens)
                .put("usage_slot_ms", USAGE_SLOT_MILLIS)
                .put("model_rpm", model == null ? "" : arg(model.maxRpm()))
                .put("model_tpm", model == null ? "" : arg(model.maxTpm()))
                .flag("model_cooldown", effect.modelCooldown())
                .put("quota", effect.quotaExhausted() ? Long.toString(Math.max(1, rules.quotaProbe().toMillis()))
                        : effect.accountAnswered() ? "clear" : "")
                .put("disabled_probe_ms", millisOrUnset(rules.disabledProbe()))
                .toArray();
    }

    /** The key-wide bucket limits every script that refills the buckets reads ({@code ''}: unlimited). */
    private static ScriptArgs limitArgs(ScriptArgs args, SharedLimits limits) {
        return args.put("rpm", arg(limits.maxRpm()))
                .put("rpm_cap", arg(limits.rpmBurst()))
                .put("tpm", arg(limits.maxTpm()))
                .put("tpm_cap", arg(limits.tpmBurst()));
    }


    /**
     * {@code POST /admin/keys/{key_id}/enable} on the shared state: clears {@code disabled},
     * {@code quota_exhausted}, the circuit and every cooldown (the key's and those of
     * {@code models}), and bumps the key's enabled counter so every replica's shared view drops its
     * own copy of that state. Completes with the counter, empty when Redis is unavailable or slow.
     */
    public CompletableFuture<OptionalLong> enable(String keyId, List<ModelLimits> models) {
        Objects.requireNonNull(models, "models");
        String[] base = keys(keyId, null);
        String[] keys = java.util.Arrays.copyOf(base, base.length + models.size());
        for (int i = 0; i < models.size(); i++) {
            keys[base.length + i] = key(keyId, "model:" + models.get(i).pattern() + ":cooldown");
        }
        return eval(ENABLE, ScriptOutputType.INTEGER, keys, new String[0], reply -> OptionalLong.of((Long) reply),
                OptionalLong.empty(), OptionalLong.empty());
    }

    /**
     * Tells Redis this replica is alive; completes with the number of replicas alive in the last
     * {@link #REPLICA_WINDOW} (this one included), empty when Redis did not answer.
     */
    public CompletableFuture<OptionalInt> heartbeat() {
        long sent = System.currentTimeMillis();
        return eval(HEARTBEAT, ScriptOutputType.MULTI, new String[] {prefix + ":replicas"},
                new String[] {replicaId, Long.toString(REPLICA_WINDOW.toMillis())},
                reply -> {
                    List<?> list = (List<?>) reply;
                    long received = System.currentTimeMillis();
                    // Redis' clock minus ours, measured at the middle of the round trip.
                    redisOffsetMillis = (Long) list.get(1) - (sent + received) / 2;
                    return OptionalInt.of(((Long) list.get(0)).intValue());
                }, OptionalInt.empty(), OptionalInt.empty());
    }

    /** {@code keyId}'s spend on {@code utcDay} (0 when nothing was spent), empty when Redis is unavailable. */
    public CompletableFuture<OptionalDouble> spend(String keyId, LocalDate utcDay) {
        Objects.requireNonNull(utcDay, "utcDay");
        String spendKey = key(keyId, "spend:" + utcDay);
        return call(a -> a.get(spendKey),
                reply -> OptionalDouble.of(reply == null ? 0.0 : Double.parseDouble(reply)),
                OptionalDouble.empty(), OptionalDouble.empty());
    }

    /** {@code keyId}'s shared state now (buckets refilled with {@code limits}), empty when Redis is unavailable. */
    public CompletableFuture<Optional<SharedSnapshot>> snapshot(String keyId, SharedLimits limits) {
        Objects.requireNonNull(limits, "limits");
        String[] args = limitArgs(new ScriptArgs(7), limits)
                .put("spend_prefix", key(keyId, "spend:"))
                .put("credential", limits.credential())
                .put("usage_slot_ms", USAGE_SLOT_MILLIS)
                .toArray();
        return eval(SNAPSHOT, ScriptOutputType.MULTI, keys(keyId, null), args,
                reply -> Optional.of(toSnapshot((List<?>) reply)), Optional.empty(), Optional.empty());
    }

    /**
     * When a take sent now is no longer waited for, on Redis' clock: the command timeout less a
     * margin for the reply's way back, from the offset the last heartbeat measured; '' before one.
     */
    private String expiresAt() {
        long offset = redisOffsetMillis;
        if (offset == Long.MIN_VALUE) {
            return "";
        }
        long timeout = health.commandTimeout().toMillis();
        long margin = Math.min(timeout / 2, 50);
        return Long.toString(System.currentTimeMillis() + offset + timeout - margin);
    }

    private String[] keys(String keyId, @Nullable ModelLimits model) {
        // Without a models bucket the script ignores KEYS[9] and KEYS[10]; an empty pattern names none.
        String pattern = model == null ? "" : model.pattern();
        return new String[] {key(keyId, "bucket"), key(keyId, "inflight"), key(keyId, "leases"),
            key(keyId, "cooldown"), key(keyId, "circuit"), key(keyId, "probe"), key(keyId, "disabled"),
            key(keyId, "usage"), key(keyId, "model:" + pattern + ":bucket"), key(keyId, "model:" + pattern + ":cooldown"),
            key(keyId, "quota"), key(keyId, "disabled_probe"), key(keyId, "enabled")};
    }

    /** At least 1 ms, or {@code ''} ("unset", "off") for {@code null}. */
    private static String millisOrUnset(@Nullable Duration interval) {
        return interval == null ? "" : Long.toString(Math.max(1, interval.toMillis()));
    }

    private static long ceilMillis(long nanos) {
        return nanos <= 0 ? 0 : (nanos + 999_999L) / 1_000_000L;
    }

    /** This replica's id in the concurrency leases. */
    public String replicaId() {
        return replicaId;
    }

    /** The Redis key {@code prefix:{keyId}:suffix}. */
    String key(String keyId, String suffix) {
        Objects.requireNonNull(keyId, "keyId");
        if (keyId.isEmpty() || keyId.indexOf('{') >= 0 || keyId.indexOf('}') >= 0) {
            // A brace would move the Cluster hash tag and scatter one key's state over slots.
            throw new IllegalArgumentException("key_id: " + keyId + " (expected: non-empty, without '{' or '}')");
        }
        return prefix + ":{" + keyId + "}:" + suffix;
    }

    private void loadScripts() {
        StatefulRedisConnection<String, String> connection = health.connection();
        if (connection == null) {
            return;
        }
        for (LuaScript script : SCRIPTS) {
            connection.async().scriptLoad(script.body()).toCompletableFuture().whenComplete((sha, error) -> {
                if (error != null) {
                    health.commandFailed(connection, unwrap(error), System.nanoTime());
                }
            });
        }
    }

    private <T> CompletableFuture<T> eval(LuaScript script, ScriptOutputType type, String[] keys, String[] args,
            Function<Object, T> reply, T unavailable, T slow) {
        return call(a -> a.<Object>evalsha(script.sha(), type, keys, args).toCompletableFuture()
                .exceptionallyCompose(error -> unwrap(error) instanceof RedisNoScriptException
                        // Redis lost its script cache (restart, SCRIPT FLUSH, failover): EVAL loads it again.
                        ? a.<Object>eval(script.body(), type, keys, args).toCompletableFuture()
                        : CompletableFuture.failedFuture(error)),
                reply, unavailable, slow, script.name());
    }

    private <R, T> CompletableFuture<T> call(
            Function<RedisAsyncCommands<String, String>, ? extends CompletionStage<R>> send,
            Function<@Nullable R, T> reply, T unavailable, T slow) {
        return call(send, reply, unavailable, slow, "command");
    }

    /**
     * Sends one command. A timeout answers {@code slow}; a lost connection (or Redis being down)
     * {@code unavailable}; an error reply is a bug here, logged, and answers {@code slow} so that
     * nothing is granted on this replica's own say-so. Only timeouts and lost connections tell
     * {@link RedisHealth} that Redis may be down.
     */
    private <R, T> CompletableFuture<T> call(
            Function<RedisAsyncCommands<String, String>, ? extends CompletionStage<R>> send,
            Function<@Nullable R, T> reply, T unavailable, T slow, String what) {
        StatefulRedisConnection<String, String> connection = health.connection();
        if (connection == null) {
            return CompletableFuture.completedFuture(unavailable);
        }
        long issued = System.nanoTime();
        return send.apply(connection.async()).toCompletableFuture().handle((value, error) -> {
            if (error == null) {
                health.commandSucceeded(System.nanoTime() - issued);
                return reply.apply(value);
            }
            return switch (health.commandFailed(connection, unwrap(error), issued)) {
                case TIMEOUT -> slow;
                case CONNECTION -> unavailable;
                case REPLY -> {
                    LOG.error("Redis refused {} (a bug in keymux, not an outage): {}", what, unwrap(error).getMessage());
                    yield slow;
                }
            };
        });
    }

    private static Throwable unwrap(Throwable error) {
        return error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    }

    private static String arg(@Nullable Number value) {
        return value == null ? "" : value.toString();
    }

    private static Grant toGrant(Object reply) {
        List<?> list = (List<?>) reply;
        if ((Long) list.get(0) == 1L) {
            return Grant.granted((Long) list.get(3) == 1L);
        }
        if ("expired".equals(list.get(1))) {
            // Ran after the caller's timeout and took nothing; the caller has moved on already.
            return Grant.slow();
        }
        return Grant.denied(Grant.Reason.ofWireName((String) list.get(1)), Math.max(0, (Long) list.get(2)));
    }

    private static SharedSnapshot toSnapshot(List<?> reply) {
        long now = Long.parseLong((String) reply.get(0));
        long cooldown = Long.parseLong((String) reply.get(1));
        long openUntil = Long.parseLong((String) reply.get(2));
        CircuitState circuit = openUntil == 0 ? CircuitState.CLOSED
                : now < openUntil ? CircuitState.OPEN : CircuitState.HALF_OPEN;
        return new SharedSnapshot(
                Instant.ofEpochMilli(now),
                cooldown == 0 ? null : Instant.ofEpochMilli(cooldown),
                circuit,
                openUntil == 0 ? null : Instant.ofEpochMilli(openUntil),
                Long.parseLong((String) reply.get(3)),
                "1".equals(reply.get(4)),
                "1".equals(reply.get(5)),
                Double.parseDouble((String) reply.get(6)),
                Long.parseLong((String) reply.get(7)),
                optionalDouble((String) reply.get(8)),
                optionalDouble((String) reply.get(9)),
                Long.parseLong((String) reply.get(10)),
                Long.parseLong((String) reply.get(11)),
                quotaAt(Long.parseLong((String) reply.get(12))),
                quotaAt(Long.parseLong((String) reply.get(13))),
                Long.parseLong((String) reply.get(14)));
    }

    private static @Nullable Instant quotaAt(long epochMillis) {
        return epochMillis == 0 ? null : Instant.ofEpochMilli(epochMillis);
    }

    private static @Nullable Double optionalDouble(String value) {
        return value.isEmpty() ? null : Double.valueOf(value);
    }
}
