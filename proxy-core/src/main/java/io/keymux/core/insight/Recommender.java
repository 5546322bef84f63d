package io.keymux.core.insight;

import io.keymux.config.model.Strategy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a window of observations into recommendations and an {@code optimization_score}. Each rule
 * is a small method; {@link #recommend} runs them all in a fixed order so the answer is stable.
 *
 * <pre>{@code
 * Recommendations r = Recommender.defaults().recommend(tasks, keys);
 * }</pre>
 */
public final class Recommender {
    /** Utilisation above which a key counts as hot. */
    public static final double HOT_UTILISATION = 0.8;
    /** Share of the window a key must be hot for to be reported. */
    public static final double HOT_SHARE = 0.5;
    /** Success rate in percent below which a key is reported. */
    public static final double LOW_SUCCESS_PERCENT = 90.0;
    /** A key this many times slower than its pool's median is reported. */
    public static final double SLOW_FACTOR = 2.0;
    /** Share of the daily budget after which a key is reported. */
    public static final double BUDGET_WARNING_SHARE = 0.8;

    private static final Map<String, Integer> PENALTY = Map.of(
            Recommendation.ADD_CAPACITY, 10,
            Recommendation.LOW_SUCCESS_RATE, 15,
            Recommendation.SLOW_KEY, 5,
            Recommendation.NO_REDUNDANCY, 10,
            Recommendation.IDLE_KEY, 5,
            Recommendation.BUDGET_LOW, 10,
            Recommendation.QUOTA_EXHAUSTED, 15,
            Recommendation.CHEAPER_KEY_UNUSED, 5);

    private final long minRequests;

    private Recommender(long minRequests) {
        this.minRequests = minRequests;
    }

    /** Rules that judge success rate and latency only from keys with at least 10 requests. */
    public static Recommender defaults() {
        return new Recommender(10);
    }

    /** Rules that judge success rate and latency from keys with at least {@code minRequests}. */
    public static Recommender withMinRequests(long minRequests) {
        return new Recommender(minRequests);
    }

    /** The recommendations and their score. */
    public record Recommendations(int optimizationScore, List<Recommendation> recommendations) {
        public Recommendations {
            recommendations = List.copyOf(recommendations);
        }
    }

    /** Runs every rule. */
    public Recommendations recommend(List<TaskObservation> tasks, List<KeyObservation> keys) {
        Map<String, KeyObservation> byId = new HashMap<>();
        for (KeyObservation k : keys) {
            byId.put(k.keyId(), k);
        }
        List<Recommendation> out = new ArrayList<>();
        for (KeyObservation k : keys) {
            hot(k).ifPresent(out::add);
        }
        for (KeyObservation k : keys) {
            lowSuccess(k).ifPresent(out::add);
        }
        for (TaskObservation t : tasks) {
            out.addAll(slowKeys(t, byId));
        }
        boolean anyTaskKeys = keys.stream().anyMatch(KeyObservation::anyTask);
        for (TaskObservation t : tasks) {
            noRedundancy(t, anyTaskKeys).ifPresent(out::add);
        }
        out.addAll(idleKeys(tasks, keys, byId));
        for (KeyObservation k : keys) {
            quotaExhausted(k).ifPresent(out::add);
        }
        for (KeyObservation k : keys) {
            budgetLow(k).ifPresent(out::add);
        }
        for (TaskObservation t : tasks) {
            cheaperKeyUnused(t, byId).ifPresent(out::add);
        }
        int score = 100;
        for (Recommendation r : out) {
            score -= PENALTY.getOrDefault(r.type(), 5);
        }
        return new Recommendations(Math.max(0, score), out);
    }

    private static Optional<Recommendation> hot(KeyObservation k) {
        if (k.highUtilisationShare() <= HOT_SHARE) {
            return Optional.empty();
        }
        return Optional.of(new Recommendation(Recommendation.ADD_CAPACITY,
                "Key '" + k.keyId() + "' used more than 80% of its RPM or TPM for "
                        + percent(k.highUtilisationShare() * 100) + " of the window: raise its limits with the"
                        + " provider or add another key to " + tasksOf(k) + ".",
                k.keyId(), null));
    }

    private Optional<Recommendation> lowSuccess(KeyObservation k) {
        if (k.requests() < minRequests || k.successRatePercent() >= LOW_SUCCESS_PERCENT) {
            return Optional.empty();
        }
        return Optional.of(new Recommendation(Recommendation.LOW_SUCCESS_RATE,
                "Key '" + k.keyId() + "' succeeded on only " + percent(k.successRatePercent()) + " of "
                        + k.requests() + " requests: check that the key is valid and within its quota, and that"
                        + " its upstream is healthy.",
                k.keyId(), null));
    }

    private List<Recommendation> slowKeys(TaskObservation t, Map<String, KeyObservation> byId) {
        List<KeyObservation> measured = new ArrayList<>();
        for (String id : t.keyIds()) {
            KeyObservation k = byId.get(id);
            if (k != null && k.requests() >= minRequests && k.averageLatencyMs() > 0) {
                measured.add(k);
            }
        }
        if (measured.size() < 2) {
            return List.of();
        }
        List<Recommendation> out = new ArrayList<>();
        for (KeyObservation k : measured) {
            double others = medianLatencyExcluding(measured, k);
            if (k.averageLatencyMs() > SLOW_FACTOR * others) {
                out.add(new Recommendation(Recommendation.SLOW_KEY,
                        "Key '" + k.keyId() + "' averages " + Math.round(k.averageLatencyMs()) + " ms against "
                                + Math.round(others) + " ms for the other keys of task '" + t.name()
                                + "': check its upstream or region, or use the latency strategy so it gets less"
                                + " traffic.",
                        k.keyId(), t.name()));
            }
        }
        return out;
    }

    private static double medianLatencyExcluding(List<KeyObservation> pool, KeyObservation excluded) {
        List<Double> latencies = new ArrayList<>();
        for (KeyObservation k : pool) {
            if (k != excluded) {
                latencies.add(k.averageLatencyMs());
            }
        }
        latencies.sort(Comparator.naturalOrder());
        int n = latencies.size();
        return n % 2 == 1 ? latencies.get(n / 2) : (latencies.get(n / 2 - 1) + latencies.get(n / 2)) / 2;
    }

    private static Optional<Recommendation> noRedundancy(TaskObservation t, boolean anyTaskKeys) {
        if (t.keyIds().size() != 1 || !t.fallback().isEmpty() || anyTaskKeys) {
            return Optional.empty();
        }
        return Optional.of(new Recommendation(Recommendation.NO_REDUNDANCY,
                "Task '" + t.name() + "' has a single key ('" + t.keyIds().get(0) + "') and no fallback: add a"
                        + " second key or a fallback task, so one 429 or outage does not stop the task.",
                t.keyIds().get(0), t.name()));
    }

    private static List<Recommendation> idleKeys(
            List<TaskObservation> tasks, List<KeyObservation> keys, Map<String, KeyObservation> byId) {
        long total = keys.stream().mapToLong(KeyObservation::requests).sum();
        if (total == 0) {
            return List.of();
        }
        Map<String, Long> taskLoad = new HashMap<>();
        for (TaskObservation t : tasks) {
            long load = 0;
            for (String id : t.keyIds()) {
                KeyObservation k = byId.get(id);
                load += k == null ? 0 : k.requests();
            }
            taskLoad.put(t.name(), load);
        }
        List<Recommendation> out = new ArrayList<>();
        for (KeyObservation k : keys) {
            if (k.requests() > 0 || k.status().equals("disabled") || k.anyTask()) {
                continue;
            }
            Optional<String> busiest = taskLoad.entrySet().stream()
                    .filter(e -> !k.tasks().contains(e.getKey()) && e.getValue() > 0)
                    .max(Map.Entry.<String, Long>comparingByValue().thenComparing(Map.Entry.comparingByKey()))
                    .map(Map.Entry::getKey);
            String advice = busiest.map(t -> "merge it into the pool of a busier task such as '" + t + "'")
                    .orElse("merge it into another task's pool");
            out.add(new Recommendation(Recommendation.IDLE_KEY,
                    "Key '" + k.keyId() + "' served no request during the window: " + advice + ", or remove it.",
                    k.keyId(), null));
        }
        return out;
    }

    private static Optional<Recommendation> quotaExhausted(KeyObservation k) {
        if (!k.status().equals("quota_exhausted")) {
            return Optional.empty();
        }
        return Optional.of(new Recommendation(Recommendation.QUOTA_EXHAUSTED,
                "Key '" + k.keyId() + "' is out of quota at its provider (insufficient_quota or 402): top up or"
                        + " raise the billing limit of its account; keymux probes it with one request every"
                        + " health.quota_probe and puts it back once it answers.",
                k.keyId(), null));
    }

    private static Optional<Recommendation> budgetLow(KeyObservation k) {
        Double budget = k.dailyBudgetUsd();
        Double warnAt = k.budgetWarnAt();
        double share = warnAt != null ? warnAt : BUDGET_WARNING_SHARE;
        if (budget == null || budget <= 0 || k.spendToday() < share * budget) {
            return Optional.empty();
        }
        String spent = k.spendToday() >= budget ? "has spent its whole" : "has spent "
                + usd(k.spendToday()) + " of its";
        String ranked = warnAt != null && k.spendToday() < budget
                ? " It is past budget_warn_at (" + percent(warnAt * 100) + "), so every strategy now ranks it after"
                        + " the keys under theirs."
                : "";
        return Optional.of(new Recommendation(Recommendation.BUDGET_LOW,
                "Key '" + k.keyId() + "' " + spent + " " + usd(budget) + " daily budget: raise the budget, or"
                        + " give its tasks cheaper keys (the cost strategy moves traffic to them)." + ranked,
                k.keyId(), null));
    }

    private static Optional<Recommendation> cheaperKeyUnused(TaskObservation t, Map<String, KeyObservation> byId) {
        if (t.strategy() != Strategy.PRIORITY) {
            return Optional.empty();
        }
        KeyObservation busiest = null;
        for (String id : t.keyIds()) {
            KeyObservation k = byId.get(id);
            if (k != null && (busiest == null || k.requests() > busiest.requests())) {
                busiest = k;
            }
        }
        if (busiest == null || busiest.requests() == 0) {
            return Optional.empty();
        }
        for (String id : t.keyIds()) {
            KeyObservation k = byId.get(id);
            if (k != null && k.requests() == 0 && k.tokenCost() < busiest.tokenCost()
                    && !k.status().equals("disabled")) {
                return Optional.of(new Recommendation(Recommendation.CHEAPER_KEY_UNUSED,
                        "Task '" + t.name() + "' (strategy priority) sends its traffic to '" + busiest.keyId()
                                + "' at " + usd(busiest.tokenCost()) + "/token while its cheaper key '" + k.keyId()
                                + "' at " + usd(k.tokenCost()) + "/token is unused: raise that key's priority or"
                                + " use the cost strategy.",
                        k.keyId(), t.name()));
            }
        }
        return Optional.empty();
    }

    private static String tasksOf(KeyObservation k) {
        if (k.tasks().isEmpty()) {
            return "its tasks";
        }
        return (k.tasks().size() == 1 ? "task '" : "tasks '") + String.join("', '", k.tasks()) + "'";
    }

    private static String percent(double value) {
        return String.format(Locale.ROOT, "%.1f%%", value);
    }

    private static String usd(double value) {
        return value >= 0.01 ? String.format(Locale.ROOT, "$%.2f", value) : String.format(Locale.ROOT, "$%.6f", value);
    }
}
