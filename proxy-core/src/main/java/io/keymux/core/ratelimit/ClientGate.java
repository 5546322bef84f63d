package io.keymux.core.ratelimit;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.keymux.config.model.ClientConfig;
import io.keymux.core.cost.DailySpend;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-client limits: {@code clients[].max_rpm} (429 {@code client_rate_limited}) and
 * {@code clients[].daily_budget_usd} per UTC day (429 {@code budget_exceeded}, retry at the next UTC
 * midnight), fed with each settled attempt's cost. Thread-safe.
 *
 * <pre>{@code
 * if (gate.admit(client) instanceof ClientDecision.Refused r) { ... 429 r.code() ... }
 * }</pre>
 */
public final class ClientGate {
    private static final long DAY_MILLIS = 86_400_000L;

    private final TimeSource time;
    private final Map<String, ClientConfig> clients = new HashMap<>();
    private final Map<String, Bucket> rpm = new HashMap<>();
    private final Map<String, DailySpend> spend = new ConcurrentHashMap<>();

    private ClientGate(List<ClientConfig> configs, TimeSource time) {
        this.time = time;
        BucketClock clock = new BucketClock(time);
        for (ClientConfig c : configs) {
            clients.put(c.name(), c);
            Long max = c.maxRpm();
            if (max != null && max <= LocalKeyLimits.MAX_PER_MINUTE) {
                rpm.put(c.name(), Bucket.builder()
                        .addLimit(Bandwidth.builder().capacity(max).refillGreedy(max, Duration.ofMinutes(1)).build())
                        .withCustomTimePrecision(clock)
                        .build());
            }
        }
    }

    /** A gate for these clients; unknown client names (for example {@code anonymous}) are never limited. */
    public static ClientGate create(List<ClientConfig> clients, TimeSource time) {
        return new ClientGate(List.copyOf(clients), Objects.requireNonNull(time, "time"));
    }

    /** Checks the budget, then takes one request from the client's rate limit. */
    public ClientDecision admit(String client) {
        ClientConfig config = clients.get(client);
        if (config == null) {
            return ClientDecision.ALLOWED;
        }
        Double budget = config.dailyBudgetUsd();
        long now = time.currentTimeMillis();
        if (budget != null && spentToday(client, now) >= budget) {
            long toMidnight = DAY_MILLIS - Math.floorMod(now, DAY_MILLIS);
            return new ClientDecision.Refused("budget_exceeded", atLeastOneSecond(toMidnight * 1_000_000L),
                    "client '" + client + "' has spent its daily budget of " + budget
                            + " USD; it resets at 00:00 UTC");
        }
        Bucket bucket = rpm.get(client);
        if (bucket != null) {
            ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(1);
            if (!probe.isConsumed()) {
                return new ClientDecision.Refused("client_rate_limited",
                        atLeastOneSecond(probe.getNanosToWaitForRefill()),
                        "client '" + client + "' is over its limit of " + config.maxRpm()
                                + " requests per minute; retry later");
            }
        }
        return ClientDecision.ALLOWED;
    }

    /** Adds a settled attempt's cost to the client's spend for today (UTC). */
    public void recordCost(String client, double usd) {
        if (usd <= 0) {
            return;
        }
        long day = Math.floorDiv(time.currentTimeMillis(), DAY_MILLIS);
        DailySpend s = spend.get(client);
        if (s == null) {
            s = spend.computeIfAbsent(client, c -> new DailySpend());
        }
        s.add(day, usd);
    }

    /** The client's spend today (UTC), in USD. */
    public double spentToday(String client) {
        return spentToday(client, time.currentTimeMillis());
    }

    private double spentToday(String client, long nowMillis) {
        DailySpend s = spend.get(client);
        return s == null ? 0 : s.spent(Math.floorDiv(nowMillis, DAY_MILLIS));
    }

    static Duration atLeastOneSecond(long nanos) {
        long seconds = Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
        return Duration.ofSeconds(seconds);
    }

    @Override
    public String toString() {
        return "ClientGate" + clients.keySet();
    }

}
