package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.health.OverloadBackoff;
import io.keymux.core.ratelimit.ClientGate;
import io.keymux.core.ratelimit.KeyLimits;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The limit-aware {@link KeyBroker}.
 *
 * <p>Choosing: for each tier of the task's candidates (own keys, fallback tasks' keys in order,
 * {@code "*"} keys) the task's strategy picks among keys that are healthy, within budget and have
 * rpm, tpm and concurrency room; taking a key reserves all three under that key's lock.
 *
 * <p>Waiting: one broker-wide wait queue ordered by task priority (higher first), then arrival. It
 * is drained (in that order, each waiter taking any key of its own pool that has room) when a lease
 * settles, when the broker's single timer fires at the earliest time some waiter's key gets capacity
 * back (a refill, a cooldown or circuit ending, the next UTC day), and on reload. A new request joins
 * the queue instead of trying at once only while requests of tasks that share a key with it, at the
 * same or a higher priority, are waiting; so a higher-priority request may overtake lower ones, never
 * the reverse. One queue rather than one per key pool keeps the ordering obvious; a waiter that
 * cannot be served never blocks a later one that can. Timed work runs on one daemon thread.
 */
final class BrokerEngine implements KeyBroker {
    private static final Duration ONE_SECOND = Duration.ofSeconds(1);
    private static final long MIN_WAKE_NANOS = 1_000_000L;

    private final TimeSource time;
    private final BrokerTimer timer;
    /** Upstreams that said they are overloaded; every key of one is skipped while it backs off. */
    private final OverloadBackoff backoff = new OverloadBackoff();
    private volatile Topology topology;
    private volatile ClientGate clientGate;

    /*
     * The queue is only touched by one drainer at a time: callers on event loops never wait for each
     * other. New waiters go through `incoming`, timer wake-ups through `woke`, and a caller that finds
     * a drain running leaves a request in `drainRequests` for the running drainer to go round again
     * (Reactor's work-in-progress pattern). The lock is then only ever contended by close().
     */
    private final ReentrantLock queueLock = new ReentrantLock();
    private final TreeSet<Waiter> waiters = new TreeSet<>(Waiter.ORDER); // guarded by queueLock
    private final ConcurrentLinkedQueue<Waiter> incoming = new ConcurrentLinkedQueue<>();
    private final AtomicInteger drainRequests = new AtomicInteger();
    private final AtomicBoolean woke = new AtomicBoolean();
    private final AtomicInteger waiting = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> waitingByTask = new ConcurrentHashMap<>();
    private final AtomicLong arrivals = new AtomicLong();
    private long wakeAt = Long.MAX_VALUE; // guarded by queueLock
    private @Nullable Runnable cancelWake; // guarded by queueLock
    private volatile boolean closed;

    private final ConcurrentHashMap<String, ConcurrentHashMap<String, LongAdder>> distribution =
            new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, DoubleAdder> clientCost = new ConcurrentHashMap<>();

    BrokerEngine(KeymuxConfig config, TimeSource time, BrokerTimer timer) {
        this.time = Objects.requireNonNull(time, "time");
        this.timer = Objects.requireNonNull(timer, "timer");
        this.topology = build(Objects.requireNonNull(config, "config"), Map.of());
        this.clientGate = ClientGate.create(config.clients(), time);
    }

    /** Immutable wiring of one configuration onto key slots (slots themselves carry state). */
    private record Topology(KeymuxConfig config, Map<String, TaskPlan> plans, List<KeySlot> slots,
            Map<String, KeySlot> byId) {}

    private Topology build(KeymuxConfig config, Map<String, KeySlot> previous) {
        Map<String, KeySlot> byId = new LinkedHashMap<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            KeySlot slot = previous.get(key.keyId());
            if (slot != null) {
                slot.reconfigure(key);
            } else {
                slot = new KeySlot(key, KeyLimits.local(key, time), time, backoff);
            }
            byId.put(key.keyId(), slot);
        }
        Map<String, TaskPlan> plans = new HashMap<>();
        for (TaskConfig task : config.tasks()) {
            Set<KeySlot> seen = new LinkedHashSet<>();
            List<KeySlot[]> tiers = new ArrayList<>();
            addTier(tiers, seen, ownKeys(config, byId, task.name()));
            for (String fallback : task.fallback()) {
                addTier(tiers, seen, ownKeys(config, byId, fallback));
            }
            List<KeySlot> any = new ArrayList<>();
            for (ApiKeyConfig key : config.apiKeys()) {
                if (key.servesAnyTask()) {
                    any.add(byId.get(key.keyId()));
                }
            }
            addTier(tiers, seen, any);
            Map<String, LongAdder> counters = new HashMap<>();
            ConcurrentHashMap<String, LongAdder> perKey =
                    distribution.computeIfAbsent(task.name(), t -> new ConcurrentHashMap<>());
            for (KeySlot slot : seen) {
                counters.put(slot.keyId(), perKey.computeIfAbsent(slot.keyId(), k -> new LongAdder()));
            }
            plans.put(task.name(), new TaskPlan(task, tiers.toArray(new KeySlot[0][]),
                    seen.toArray(new KeySlot[0]), counters));
        }
        for (TaskPlan plan : plans.values()) {
            Set<KeySlot> mine = Set.of(plan.all);
            List<String> rivals = new ArrayList<>();
            for (TaskPlan other : plans.values()) {
                if (other.task.priority() < plan.task.priority()) {
                    continue;
                }
                for (KeySlot slot : other.all) {
                    if (mine.contains(slot)) {
                        rivals.add(other.task.name());
                        break;
                    }
                }
            }
            plan.rivals = rivals.toArray(new String[0]);
        }
        return new Topology(config, Map.copyOf(plans), List.copyOf(byId.values()), byId);
    }

    private static List<KeySlot> ownKeys(KeymuxConfig config, Map<String, KeySlot> byId, String task) {
        List<KeySlot> keys = new ArrayList<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            if (key.taskTypes().contains(task)) {
                keys.add(byId.get(key.keyId()));
            }
        }
        return keys;
    }

    private static void addTier(List<KeySlot[]> tiers, Set<KeySlot> seen, List<KeySlot> keys) {
        List<KeySlot> tier = new ArrayList<>();
        for (KeySlot slot : keys) {
            if (seen.add(slot)) {
                tier.add(slot);
            }
        }
        if (!tier.isEmpty()) {
            tiers.add(tier.toArray(new KeySlot[0]));
        }
    }

    // ---------------------------------------------------------------- acquiring

    @Override
    public CompletableFuture<Admission> acquire(KeyRequest request) {
        Objects.requireNonNull(request, "request");
        TaskPlan plan = topology.plans().get(request.task());
        if (plan == null) {
            return CompletableFuture.completedFuture(noKeys(request.task()));
        }
        if (closed) {
            return CompletableFuture.completedFuture(shuttingDown());
        }
        long now = time.nanoTime();
        if (waiting.get() == 0 || !rivalsWaiting(plan)) {
            Admission admission = tryNow(plan, topology.byId(), request, now, now);
            if (admission != null) {
                return CompletableFuture.completedFuture(admission);
            }
            if (isZeroOrNegative(plan.task.maxWait())) {
                return CompletableFuture.completedFuture(exhausted(plan, request, now));
            }
        }
        return enqueue(plan, request, now);
    }

    /** Whether requests that this one must not overtake are waiting (same keys, same or higher priority). */
    private boolean rivalsWaiting(TaskPlan plan) {
        for (String rival : plan.rivals) {
            AtomicInteger n = waitingByTask.get(rival);
            if (n != null && n.get() > 0) {
                return true;
            }
        }
        return false;
    }

    private void countWaiter(Waiter waiter, int delta) {
        waiting.addAndGet(delta);
        waitingByTask.computeIfAbsent(waiter.request.task(), t -> new AtomicInteger()).addAndGet(delta);
    }

    private static boolean isZeroOrNegative(Duration d) {
        return d.isZero() || d.isNegative();
    }

    /** A lease, an immediate rejection, or {@code null}: wait for capacity. */
    private @Nullable Admission tryNow(TaskPlan plan, Map<String, KeySlot> byId, KeyRequest request, long now,
            long enqueuedAt) {
        long day = Math.floorDiv(time.currentTimeMillis(), KeySlot.DAY_MILLIS);
        Attempt attempt = new Attempt(request.estimatedTokens(), now, day, false, request.excludedKeyIds(),
                request.model());
        if (choose(plan, byId, request.preference(), attempt)) {
            return lease(plan, request, attempt, now - enqueuedAt);
        }
        if (attempt.rampDenied) {
            // Only ramping keys had room: use them rather than make the request wait.
            attempt = new Attempt(request.estimatedTokens(), now, day, true, request.excludedKeyIds(),
                    request.model());
            if (choose(plan, byId, request.preference(), attempt)) {
                return lease(plan, request, attempt, now - enqueuedAt);
            }
        }
        return immediateRejection(plan, candidates(plan, byId, request), request, attempt);
    }

    /**
     * The keys that may serve a request: the task's candidates, or for an exclusive preference only
     * the keys it names (a provider object's key may serve it even if another task lent it), and
     * none when that key is no longer configured.
     */
    private static KeySlot[] candidates(TaskPlan plan, Map<String, KeySlot> byId, KeyRequest request) {
        KeyPreference preference = request.preference();
        if (!preference.exclusive()) {
            return plan.all;
        }
        List<KeySlot> named = new ArrayList<>(preference.order().size());
        for (String keyId : preference.order()) {
            KeySlot slot = byId.get(keyId);
            if (slot != null) {
                named.add(slot);
            }
        }
        return named.toArray(new KeySlot[0]);
    }

    /**
     * A preference first: its keys in its order, the first with room taking the request (an
     * exclusive one stops there); then the task's tiers and strategies as for any request.
     */
    private static boolean choose(TaskPlan plan, Map<String, KeySlot> byId, KeyPreference preference,
            Attempt attempt) {
        if (!preference.isNone()) {
            attempt.skipWarned = false;
            for (String keyId : preference.order()) {
                KeySlot slot = byId.get(keyId);
                if (slot != null && attempt.take(slot)) {
                    return true;
                }
            }
            if (preference.exclusive()) {
                return false;
            }
        }
        return choose(plan, attempt);
    }

    /**
     * Each tier in order: first among its keys under their {@code budget_warn_at} share, then (only if
     * none could take the request and some were left out for that) among all of them, so a key past
     * its warning is ranked after the others by every strategy.
     */
    private static boolean choose(TaskPlan plan, Attempt attempt) {
        for (int i = 0; i < plan.tiers.length; i++) {
            attempt.skipWarned = true;
            attempt.sawWarned = false;
            if (plan.strategies[i].select(plan.tiers[i], attempt)) {
                return true;
            }
            if (attempt.sawWarned) {
                attempt.skipWarned = false;
                if (plan.strategies[i].select(plan.tiers[i], attempt)) {
                    return true;
                }
            }
        }
        attempt.skipWarned = false;
        return false;
    }

    private EngineLease lease(TaskPlan plan, KeyRequest request, Attempt attempt, long queuedNanos) {
        KeySlot slot = Objects.requireNonNull(attempt.taken, "taken");
        long result = attempt.takeResult;
        long flags = result & KeySlot.FLAGS;
        long reserved = result & ~KeySlot.FLAGS;
        LongAdder counter = plan.leasesByKey.get(slot.keyId());
        if (counter != null) {
            counter.increment();
        }
        slot.requestWindow.add(attempt.now, 1);
        ModelSlot model = attempt.takenModel;
        if (model != null) {
            model.requestWindow.add(attempt.now, 1);
        }
        return new EngineLease(this, slot, plan.task, request.client(), reserved, flags, model, queuedNanos);
    }

    private @Nullable Rejection immediateRejection(TaskPlan plan, KeySlot[] candidates, KeyRequest request,
            Attempt attempt) {
        String pinned = request.preference().pinnedKeyId();
        if (candidates.length == 0 && pinned != null) {
            return new Rejection(Rejection.Reason.ALL_DISABLED, ONE_SECOND,
                    "key '" + pinned + "' is no longer configured");
        }
        boolean anyEnabled = false;
        boolean anyUntried = false;
        boolean triedHasRoom = false;
        // Untried keys that only an upstream overload or an empty account keeps out: waiting for
        // them is pointless (overload: answer 503 now; quota: the next probe is minutes away).
        boolean allUntriedDormantOrOverloaded = true;
        int overloaded = 0;
        long overloadLeft = Long.MAX_VALUE;
        long quotaLeft = Long.MAX_VALUE;
        long nowMillis = time.currentTimeMillis();
        for (KeySlot slot : candidates) {
            if (slot.disabled()) {
                continue;
            }
            anyEnabled = true;
            ModelSlot m = slot.modelFor(attempt.model);
            if (attempt.excluded(slot)) {
                triedHasRoom |= slot.available(attempt.estimate, attempt.now, attempt.day, m);
                continue;
            }
            anyUntried = true;
            long[] b = slot.blockage(attempt.estimate, attempt.now, nowMillis, m);
            if (b[0] == KeySlot.Block.OVERLOADED.ordinal()) {
                overloaded++;
                overloadLeft = Math.min(overloadLeft, b[1]);
            } else if (b[0] == KeySlot.Block.QUOTA.ordinal()) {
                quotaLeft = Math.min(quotaLeft, b[1]);
            } else {
                allUntriedDormantOrOverloaded = false;
            }
        }
        if (!anyEnabled) {
            return new Rejection(Rejection.Reason.ALL_DISABLED, ONE_SECOND, pinned != null
                    ? "key '" + pinned + "', which holds the object this request names, is disabled after "
                            + "upstream 401/403; fix it in the config"
                    : "every key of task '" + plan.task.name() + "' is disabled after upstream 401/403; "
                            + "fix the keys in the config");
        }
        if (anyUntried && allUntriedDormantOrOverloaded) {
            if (overloaded > 0) {
                Duration retry = ceilSeconds(overloadLeft);
                return new Rejection(Rejection.Reason.UPSTREAM_OVERLOADED, retry,
                        "the upstream of every remaining key of task '" + plan.task.name() + "' said it is "
                                + "overloaded; retry after " + retry.toSeconds() + " s");
            }
            Duration retry = ceilSeconds(quotaLeft);
            return new Rejection(Rejection.Reason.RATE_LIMITED, retry,
                    "every remaining key of task '" + plan.task.name() + "' is out of quota (quota_exhausted): "
                            + "top up the provider accounts; the next probe is in " + retry.toSeconds() + " s");
        }
        if (!anyUntried || triedHasRoom) {
            return new Rejection(Rejection.Reason.NO_UNTRIED_KEY, ONE_SECOND,
                    "no untried key with capacity left for task '" + plan.task.name() + "'");
        }
        return null;
    }

    private static Duration ceilSeconds(long nanos) {
        if (nanos == Long.MAX_VALUE) {
            return ONE_SECOND;
        }
        return Duration.ofSeconds(Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L));
    }

    private static Rejection noKeys(String task) {
        return new Rejection(Rejection.Reason.ALL_DISABLED, ONE_SECOND,
                "task '" + task + "' has no keys; add keys with this task in task_types");
    }

    private static Rejection shuttingDown() {
        return new Rejection(Rejection.Reason.RATE_LIMITED, ONE_SECOND, "keymux is shutting down; retry");
    }

    // ---------------------------------------------------------------- waiting

    /** A request waiting for capacity. */
    private static final class Waiter {
        static final Comparator<Waiter> ORDER = Comparator.comparingInt((Waiter w) -> -w.priority)
                .thenComparingLong(w -> w.arrival);

        final KeyRequest request;
        final int priority;
        final long arrival;
        final long enqueuedAt;
        final CompletableFuture<Admission> future = new CompletableFuture<>();
        volatile @Nullable Runnable cancelExpiry;

        Waiter(KeyRequest request, int priority, long arrival, long enqueuedAt) {
            this.request = request;
            this.priority = priority;
            this.arrival = arrival;
            this.enqueuedAt = enqueuedAt;
        }
    }

    private CompletableFuture<Admission> enqueue(TaskPlan plan, KeyRequest request, long now) {
        Waiter waiter = new Waiter(request, plan.task.priority(), arrivals.getAndIncrement(), now);
        countWaiter(waiter, 1);
        incoming.add(waiter);
        waiter.future.whenComplete((admission, failure) -> {
            if (waiter.future.isCancelled()) {
                leave(waiter);
            }
        });
        Duration maxWait = plan.task.maxWait();
        if (!isZeroOrNegative(maxWait)) {
            waiter.cancelExpiry = timer.schedule(() -> expire(waiter), maxWait.toNanos());
        }
        drain();
        if (isZeroOrNegative(maxWait)) {
            expire(waiter);
        }
        return waiter.future;
    }

    private void leave(Waiter waiter) {
        Runnable cancel = waiter.cancelExpiry;
        if (cancel != null) {
            cancel.run();
        }
        drain(); // takes the cancelled waiter out of the queue and its count
    }

    /**
     * Serves waiters in priority order with whatever capacity there is now, then re-arms the timer.
     * Never waits for another drain: if one is running, it goes round once more instead.
     */
    void drain() {
        if (drainRequests.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        do {
            List<Runnable> completions = new ArrayList<>();
            queueLock.lock();
            try {
                drainLocked(completions);
            } finally {
                queueLock.unlock();
            }
            completions.forEach(Runnable::run);
            missed = drainRequests.addAndGet(-missed);
        } while (missed != 0);
    }

    /** One pass over the queue (caller holds the lock, and is the only drainer). */
    private void drainLocked(List<Runnable> completions) {
        if (woke.getAndSet(false)) {
            cancelWake = null;
            wakeAt = Long.MAX_VALUE;
        }
        for (Waiter next = incoming.poll(); next != null; next = incoming.poll()) {
            Waiter w = next;
            if (closed) {
                countWaiter(w, -1);
                completions.add(() -> complete(w, shuttingDown()));
            } else {
                waiters.add(w);
            }
        }
        if (waiters.isEmpty()) {
            return;
        }
        long now = time.nanoTime();
        Topology topo = topology;
        // Within one pass a task's key pool only loses capacity, so once a request of a task
        // (with no keys excluded) found nothing, larger ones of that task are not tried again.
        Map<String, Long> failedAt = new HashMap<>();
        Iterator<Waiter> it = waiters.iterator();
        while (it.hasNext()) {
            Waiter waiter = it.next();
            if (waiter.future.isDone()) {
                it.remove();
                countWaiter(waiter, -1);
                continue;
            }
            KeyRequest request = waiter.request;
            boolean plain = request.plain();
            Long failed = plain ? failedAt.get(request.task()) : null;
            if (failed != null && request.estimatedTokens() >= failed) {
                continue;
            }
            TaskPlan plan = topo.plans().get(request.task());
            Admission admission = plan == null
                    ? noKeys(request.task())
                    : tryNow(plan, topo.byId(), request, now, waiter.enqueuedAt);
            if (admission != null) {
                it.remove();
                countWaiter(waiter, -1);
                completions.add(() -> complete(waiter, admission));
            } else if (plain) {
                failedAt.merge(request.task(), request.estimatedTokens(), Math::min);
            }
        }
        if (!waiters.isEmpty()) {
            armWake(topo, now);
        }
    }

    private void complete(Waiter waiter, Admission admission) {
        Runnable cancel = waiter.cancelExpiry;
        if (cancel != null) {
            cancel.run();
        }
        if (!waiter.future.complete(admission) && admission instanceof EngineLease lease) {
            // The caller cancelled while we granted: give the capacity back.
            lease.releaseUnsent();
        }
    }

    /** Schedules the next drain at the earliest time a waiter's key may have room (caller holds the lock). */
    private void armWake(Topology topo, long now) {
        long nowMillis = time.currentTimeMillis();
        long earliest = Long.MAX_VALUE;
        // One diagnosis per task (its first, highest-placed waiter) keeps this linear in tasks.
        Set<String> seen = new java.util.HashSet<>();
        for (Waiter waiter : waiters) {
            if (!seen.add(waiter.request.task()) && waiter.request.plain()) {
                continue;
            }
            TaskPlan plan = topo.plans().get(waiter.request.task());
            if (plan != null) {
                earliest = Math.min(earliest, diagnose(candidates(plan, topo.byId(), waiter.request), waiter.request,
                        now, nowMillis).wait);
            }
        }
        if (earliest == Long.MAX_VALUE || closed) {
            return; // only a settle (concurrency, probe) or an expiry can help: they drain
        }
        long at = now + Math.max(earliest, MIN_WAKE_NANOS);
        if (cancelWake != null && at - wakeAt >= 0) {
            return;
        }
        if (cancelWake != null) {
            cancelWake.run();
        }
        wakeAt = at;
        cancelWake = timer.schedule(this::wake, at - now);
    }

    private void wake() {
        woke.set(true);
        drain();
    }

    private void expire(Waiter waiter) {
        if (waiter.future.isDone()) {
            return;
        }
        long now = time.nanoTime();
        TaskPlan plan = topology.plans().get(waiter.request.task());
        Admission admission;
        if (plan == null) {
            admission = noKeys(waiter.request.task());
        } else {
            // Capacity may have come back at the very deadline.
            Admission last = tryNow(plan, topology.byId(), waiter.request, now, waiter.enqueuedAt);
            admission = last != null ? last : exhausted(plan, waiter.request, now);
        }
        // If a drain served the waiter meanwhile, complete() gives this admission's capacity back.
        complete(waiter, admission);
        drain(); // takes the expired waiter out of the queue and its count
    }

    /** Counts why the untried keys cannot take a request and the soonest one may. */
    private static final class Diagnosis {
        final int[] blocked = new int[KeySlot.Block.values().length];
        long wait = Long.MAX_VALUE;
    }

    private static Diagnosis diagnose(KeySlot[] candidates, KeyRequest request, long now, long nowMillis) {
        Diagnosis d = new Diagnosis();
        Set<String> excluded = request.excludedKeyIds();
        for (KeySlot slot : candidates) {
            if (excluded.contains(slot.keyId())) {
                continue;
            }
            long[] b = slot.blockage(request.estimatedTokens(), now, nowMillis, slot.modelFor(request.model()));
            d.blocked[(int) b[0]]++;
            d.wait = Math.min(d.wait, Math.max(MIN_WAKE_NANOS, b[1]));
        }
        return d;
    }

    private Rejection exhausted(TaskPlan plan, KeyRequest request, long now) {
        Diagnosis d = diagnose(candidates(plan, topology.byId(), request), request, now, time.currentTimeMillis());
        long seconds = d.wait == Long.MAX_VALUE ? 1 : Math.max(1, (d.wait + 999_999_999L) / 1_000_000_000L);
        List<String> causes = new ArrayList<>();
        cause(causes, d, KeySlot.Block.RATE, "rate limits");
        cause(causes, d, KeySlot.Block.CONCURRENCY, "concurrency limits");
        cause(causes, d, KeySlot.Block.COOLDOWN, "cooldowns after upstream 429");
        cause(causes, d, KeySlot.Block.CIRCUIT, "open circuits after upstream failures");
        cause(causes, d, KeySlot.Block.BUDGET, "daily budgets spent");
        cause(causes, d, KeySlot.Block.DISABLED, "disabled keys");
        cause(causes, d, KeySlot.Block.QUOTA, "keys out of quota");
        cause(causes, d, KeySlot.Block.OVERLOADED, "upstreams backing off after saying they are overloaded");
        cause(causes, d, KeySlot.Block.SHARED, "limits shared with other replicas");
        String why = causes.isEmpty() ? "no capacity" : String.join(", ", causes);
        String pinned = request.preference().pinnedKeyId();
        if (pinned != null) {
            return new Rejection(Rejection.Reason.RATE_LIMITED, Duration.ofSeconds(seconds),
                    "key '" + pinned + "', which holds the object this request names, has no capacity (" + why
                            + ") after waiting " + plan.task.maxWait().toMillis() + " ms; retry after " + seconds
                            + " s");
        }
        return new Rejection(Rejection.Reason.RATE_LIMITED, Duration.ofSeconds(seconds),
                "all keys for task '" + plan.task.name() + "' are exhausted (" + why + ") after waiting "
                        + plan.task.maxWait().toMillis() + " ms; retry after " + seconds + " s");
    }

    private static void cause(List<String> causes, Diagnosis d, KeySlot.Block block, String name) {
        int n = d.blocked[block.ordinal()];
        if (n > 0) {
            causes.add(name + " (" + n + (n == 1 ? " key)" : " keys)"));
        }
    }

    // ---------------------------------------------------------------- settling

    void settle(EngineLease lease, Outcome outcome) {
        long now = time.nanoTime();
        long nowMillis = time.currentTimeMillis();
        long day = Math.floorDiv(nowMillis, KeySlot.DAY_MILLIS);
        KeySlot slot = lease.slot;
        ApiKeyConfig key = lease.key();
        double cost = 0;
        Outcome.Answered answered = outcome instanceof Outcome.Answered a ? a : null;
        if (answered != null && answered.usageKnown()) {
            cost = key.costUsd(answered.promptTokens(), answered.cachedPromptTokens(), answered.completionTokens());
        }
        KeyEffect effect = KeyRule.of(outcome, lease.reservedTokens(), lease.task.health());
        KeySlot.Change change = slot.settle(effect, lease.flags, lease.model, lease.task.health(), now, day, cost,
                answered != null ? answered.latencyNanos() : 0);
        if (effect.overloadNanos() > 0 && outcome instanceof Outcome.Overloaded o) {
            // Not the key's fault: the whole upstream gets no request for a while, on every key.
            Duration backoffFor = Duration.ofNanos(effect.overloadNanos());
            slot.upstream().backOff(now, backoffFor);
            KeySlot.logOverloaded(key.upstream(), o.status(), backoffFor);
        }
        if (!effect.attempt()) {
            // Not an attempt: the lease never reached the provider, so no counter moves.
            slot.requestWindow.add(now, -1);
            if (lease.model != null) {
                lease.model.requestWindow.add(now, -1);
            }
            ConcurrentHashMap<String, LongAdder> perKey = distribution.get(lease.task.name());
            LongAdder counter = perKey == null ? null : perKey.get(key.keyId());
            if (counter != null) {
                counter.decrement();
            }
            if (waiting.get() > 0) {
                drain();
            }
            return;
        }
        if (change == KeySlot.Change.DISABLED && outcome instanceof Outcome.Unauthorized u) {
            KeySlot.logDisabled(key.keyId(), u.status(), lease.task.health());
        } else if (change != KeySlot.Change.NONE) {
            KeySlot.logChange(key.keyId(), change, lease.task.health());
        }
        slot.totalRequests.increment();
        if (answered != null) {
            if (answered.status() < 400) {
                slot.successes.increment();
            }
            slot.latencySumNanos.add(answered.latencyNanos());
            slot.latencyCount.increment();
            if (answered.usageKnown()) {
                slot.promptTokens.add(answered.promptTokens());
                slot.completionTokens.add(answered.completionTokens());
                slot.tokenWindow.add(now, answered.promptTokens() + answered.completionTokens());
            } else {
                slot.tokenWindow.add(now, lease.reservedTokens());
            }
            if (lease.model != null) {
                lease.model.tokenWindow.add(now, answered.usageKnown()
                        ? answered.promptTokens() + answered.completionTokens() : lease.reservedTokens());
            }
            if (cost > 0) {
                slot.totalCost.add(cost);
                DoubleAdder spent = clientCost.get(lease.client);
                if (spent == null) {
                    spent = clientCost.computeIfAbsent(lease.client, c -> new DoubleAdder());
                }
                spent.add(cost);
                clientGate.recordCost(lease.client, cost);
            }
        }
        if (waiting.get() > 0) {
            drain();
        }
    }

    // ---------------------------------------------------------------- admin and lifecycle

    @Override
    public List<KeyStatus> keyStates() {
        long now = time.nanoTime();
        long nowMillis = time.currentTimeMillis();
        List<KeyStatus> states = new ArrayList<>();
        for (KeySlot slot : topology.slots()) {
            states.add(slot.status(now, nowMillis));
        }
        return List.copyOf(states);
    }

    @Override
    public CompletableFuture<Boolean> enable(String keyId) {
        Objects.requireNonNull(keyId, "keyId");
        KeySlot slot = topology.byId().get(keyId);
        if (slot == null) {
            return CompletableFuture.completedFuture(false);
        }
        if (slot.enable(time.nanoTime())) {
            KeySlot.logEnabled(keyId);
        }
        // Requests queued for capacity may take the key now.
        drain();
        return CompletableFuture.completedFuture(true);
    }

    @Override
    public BrokerMetrics metrics() {
        Map<String, Map<String, Long>> tasks = new HashMap<>();
        distribution.forEach((task, keys) -> {
            Map<String, Long> counts = new HashMap<>();
            keys.forEach((keyId, count) -> counts.put(keyId, count.sum()));
            tasks.put(task, Map.copyOf(counts));
        });
        Map<String, Double> clients = new HashMap<>();
        clientCost.forEach((client, cost) -> clients.put(client, cost.sum()));
        return new BrokerMetrics(tasks, clients);
    }

    @Override
    public ClientGate clients() {
        return clientGate;
    }

    @Override
    public synchronized void reconfigure(KeymuxConfig next) {
        Objects.requireNonNull(next, "next");
        Topology current = topology;
        topology = build(next, current.byId());
        if (!next.clients().equals(current.config().clients())) {
            clientGate = ClientGate.create(next.clients(), time);
        }
        drain();
    }

    @Override
    public void close() {
        closed = true;
        List<Waiter> pending;
        queueLock.lock();
        try {
            for (Waiter w = incoming.poll(); w != null; w = incoming.poll()) {
                waiters.add(w);
            }
            pending = new ArrayList<>(waiters);
            for (Waiter waiter : pending) {
                countWaiter(waiter, -1);
            }
            waiters.clear();
            if (cancelWake != null) {
                cancelWake.run();
                cancelWake = null;
            }
        } finally {
            queueLock.unlock();
        }
        for (Waiter waiter : pending) {
            complete(waiter, shuttingDown());
        }
        timer.close();
    }
}
