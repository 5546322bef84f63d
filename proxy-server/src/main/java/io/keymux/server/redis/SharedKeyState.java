package io.keymux.server.redis;

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
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

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
 *   <li>{@code keymux:{k1}:disabled}; {@code keymux:{k1}:spend:2026-11-22} (USD, kept two days)
 * </ul>
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
 * <p>Every method returns at once. While {@link RedisHealth} is DOWN, or when the command fails,
 * the future completes normally with an "unavailable" value ({@link Grant#unavailable()},
 * {@code false}, {@link CircuitState#UNKNOWN}, empty) and the caller uses local limits.
 */
public final class SharedKeyState {
    /** The namespace in front of every Redis key unless another is given. */
    public static final String DEFAULT_PREFIX = "keymux";
    /** How long a replica's concurrency slots outlive its last take or settle on a key. */
    public static final Duration DEFAULT_LEASE_TTL = Duration.ofMinutes(10);
    /** The retry-after of a concurrency denial: a slot frees when some request ends, time unknown. */
    public static final long CONCURRENCY_RETRY_MILLIS = 100;

    private static final LuaScript TRY_TAKE = LuaScript.load("try_take");
    private static final LuaScript SETTLE = LuaScript.load("settle");
    private static final LuaScript COOL_DOWN = LuaScript.load("cool_down");
    private static final LuaScript RECORD_FAILURE = LuaScript.load("record_failure");
    private static final LuaScript ADD_SPEND = LuaScript.load("add_spend");
    private static final LuaScript SNAPSHOT = LuaScript.load("snapshot");
    private static final List<LuaScript> SCRIPTS = List.of(TRY_TAKE, SETTLE, COOL_DOWN, RECORD_FAILURE, ADD_SPEND, SNAPSHOT);

    private final RedisHealth health;
    private final String prefix;
    private final String replicaId;
    private final String leaseTtlMillis;

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
     * A granted request must be followed by one {@link #settle}.
     */
    public CompletableFuture<Grant> tryTake(String keyId, KeyLimits limits, long tokens) {
        Objects.requireNonNull(limits, "limits");
        if (tokens < 0) {
            throw new IllegalArgumentException("tokens: " + tokens + " (expected: >= 0)");
        }
        String[] keys = {key(keyId, "bucket"), key(keyId, "inflight"), key(keyId, "leases"), key(keyId, "cooldown"),
            key(keyId, "circuit"), key(keyId, "probe"), key(keyId, "disabled")};
        String[] args = {arg(limits.maxRpm()), arg(limits.rpmBurst()), arg(limits.maxTpm()), arg(limits.tpmBurst()),
            arg(limits.maxConcurrent()), arg(limits.dailyBudgetUsd()), Long.toString(tokens), replicaId,
            leaseTtlMillis, Long.toString(CONCURRENCY_RETRY_MILLIS), key(keyId, "spend:")};
        return eval(TRY_TAKE, ScriptOutputType.MULTI, keys, args, SharedKeyState::toGrant, Grant.unavailable());
    }

    /**
     * Corrects a granted request's TPM reservation to {@code actualTokens} (a refund capped at the
     * capacity, or a charge that may leave the bucket negative) and, if {@code releaseConcurrency},
     * frees its concurrency slot. Completes with {@code true} when Redis applied it.
     */
    public CompletableFuture<Boolean> settle(String keyId, KeyLimits limits, long reservedTokens, long actualTokens,
            boolean releaseConcurrency) {
        Objects.requireNonNull(limits, "limits");
        String[] keys = {key(keyId, "bucket"), key(keyId, "inflight"), key(keyId, "leases")};
        String[] args = {arg(limits.maxRpm()), arg(limits.rpmBurst()), arg(limits.maxTpm()), arg(limits.tpmBurst()),
            Long.toString(reservedTokens), Long.toString(actualTokens), releaseConcurrency ? "1" : "0", replicaId,
            leaseTtlMillis};
        return eval(SETTLE, ScriptOutputType.INTEGER, keys, args, reply -> true, false);
    }

    /**
     * Cools {@code keyId} down until {@code epochMillis} unless it already cools down longer (a
     * deadline is never shortened). Completes with the deadline in force, empty when none or
     * when Redis is unavailable.
     */
    public CompletableFuture<Optional<Instant>> coolDownUntil(String keyId, long epochMillis) {
        return eval(COOL_DOWN, ScriptOutputType.INTEGER, new String[] {key(keyId, "cooldown")},
                new String[] {Long.toString(epochMillis)},
                reply -> ((Long) reply) > 0 ? Optional.of(Instant.ofEpochMilli((Long) reply)) : Optional.empty(),
                Optional.empty());
    }

    /**
     * Counts one consecutive failure (5xx, connect, timeout) of {@code keyId}; at {@code
     * threshold} the circuit opens for {@code circuitCooldownMillis}, after which one probe
     * decides. A failed probe reopens it at once. Completes with the circuit's state after this
     * failure ({@link CircuitState#UNKNOWN} when Redis is unavailable).
     */
    public CompletableFuture<CircuitState> recordFailure(String keyId, int threshold, long circuitCooldownMillis) {
        if (threshold <= 0) {
            throw new IllegalArgumentException("threshold: " + threshold + " (expected: > 0)");
        }
        if (circuitCooldownMillis <= 0) {
            throw new IllegalArgumentException("circuitCooldownMillis: " + circuitCooldownMillis + " (expected: > 0)");
        }
        return eval(RECORD_FAILURE, ScriptOutputType.MULTI, new String[] {key(keyId, "circuit"), key(keyId, "probe")},
                new String[] {Integer.toString(threshold), Long.toString(circuitCooldownMillis)},
                reply -> "open".equals(((List<?>) reply).get(0)) ? CircuitState.OPEN : CircuitState.CLOSED,
                CircuitState.UNKNOWN);
    }

    /** A success of {@code keyId}: resets the failure count and closes its circuit (ends a probe). */
    public CompletableFuture<Boolean> recordSuccess(String keyId) {
        return command(a -> a.del(key(keyId, "circuit"), key(keyId, "probe")));
    }

    /** Marks {@code keyId} {@code disabled} (an upstream 401/403) until {@link #enable}. */
    public CompletableFuture<Boolean> disable(String keyId) {
        return command(a -> a.set(key(keyId, "disabled"), "1"));
    }

    /** Removes the {@code disabled} mark of {@code keyId}. */
    public CompletableFuture<Boolean> enable(String keyId) {
        return command(a -> a.del(key(keyId, "disabled")));
    }

    /**
     * Adds {@code usd} to {@code keyId}'s spend of {@code utcDay}; completes with the day's total,
     * empty when Redis is unavailable. The budget check of {@link #tryTake} reads Redis' current
     * UTC day, so pass the UTC date of now.
     */
    public CompletableFuture<OptionalDouble> addSpend(String keyId, LocalDate utcDay, double usd) {
        Objects.requireNonNull(utcDay, "utcDay");
        if (!Double.isFinite(usd)) {
            throw new IllegalArgumentException("usd: " + usd + " (expected: a finite number)");
        }
        return eval(ADD_SPEND, ScriptOutputType.VALUE, new String[] {key(keyId, "spend:" + utcDay)},
                new String[] {Double.toString(usd)}, reply -> OptionalDouble.of(Double.parseDouble((String) reply)),
                OptionalDouble.empty());
    }

    /** {@code keyId}'s spend on {@code utcDay} (0 when nothing was spent), empty when Redis is unavailable. */
    public CompletableFuture<OptionalDouble> spend(String keyId, LocalDate utcDay) {
        Objects.requireNonNull(utcDay, "utcDay");
        String spendKey = key(keyId, "spend:" + utcDay);
        return call(a -> a.get(spendKey),
                reply -> OptionalDouble.of(reply == null ? 0.0 : Double.parseDouble(reply)),
                OptionalDouble.empty());
    }

    /** {@code keyId}'s shared state now (buckets refilled with {@code limits}), empty when Redis is unavailable. */
    public CompletableFuture<Optional<SharedSnapshot>> snapshot(String keyId, KeyLimits limits) {
        Objects.requireNonNull(limits, "limits");
        String[] keys = {key(keyId, "bucket"), key(keyId, "inflight"), key(keyId, "leases"), key(keyId, "cooldown"),
            key(keyId, "circuit"), key(keyId, "probe"), key(keyId, "disabled")};
        String[] args = {arg(limits.maxRpm()), arg(limits.rpmBurst()), arg(limits.maxTpm()), arg(limits.tpmBurst()),
            key(keyId, "spend:")};
        return eval(SNAPSHOT, ScriptOutputType.MULTI, keys, args, reply -> Optional.of(toSnapshot((List<?>) reply)),
                Optional.empty());
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
                    health.commandFailed(connection, error);
                }
            });
        }
    }

    private <T> CompletableFuture<T> eval(LuaScript script, ScriptOutputType type, String[] keys, String[] args,
            Function<Object, T> reply, T unavailable) {
        return call(a -> a.<Object>evalsha(script.sha(), type, keys, args).toCompletableFuture()
                .exceptionallyCompose(error -> unwrap(error) instanceof RedisNoScriptException
                        // Redis lost its script cache (restart, SCRIPT FLUSH, failover): EVAL loads it again.
                        ? a.<Object>eval(script.body(), type, keys, args).toCompletableFuture()
                        : CompletableFuture.failedFuture(error)),
                reply, unavailable);
    }

    private <R> CompletableFuture<Boolean> command(Function<RedisAsyncCommands<String, String>, ? extends CompletionStage<R>> send) {
        return call(send, reply -> true, false);
    }

    private <R, T> CompletableFuture<T> call(
            Function<RedisAsyncCommands<String, String>, ? extends CompletionStage<R>> send,
            Function<@Nullable R, T> reply, T unavailable) {
        StatefulRedisConnection<String, String> connection = health.connection();
        if (connection == null) {
            return CompletableFuture.completedFuture(unavailable);
        }
        return send.apply(connection.async()).toCompletableFuture().handle((value, error) -> {
            if (error != null) {
                health.commandFailed(connection, error);
                return unavailable;
            }
            return reply.apply(value);
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
                optionalDouble((String) reply.get(9)));
    }

    private static @Nullable Double optionalDouble(String value) {
        return value.isEmpty() ? null : Double.valueOf(value);
    }
}
