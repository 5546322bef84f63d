package io.keymux.server.admin;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.history.HistorySnapshot;
import io.keymux.core.history.TrafficHistory;
import io.keymux.core.insight.HealthScore;
import io.keymux.core.insight.KeyObservation;
import io.keymux.core.insight.Recommendation;
import io.keymux.core.insight.Recommender;
import io.keymux.core.insight.TaskObservation;
import io.keymux.core.insight.UtilisationHistory;
import io.keymux.core.select.BrokerMetrics;
import io.keymux.core.select.KeyStatus;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The bodies of {@code /admin/metrics}, {@code /admin/keys}, {@code /admin/health},
 * {@code /admin/history} and {@code /admin/recommendations} (SPEC.md section 5), as ordered maps for Jackson, from one
 * snapshot of the broker. Rates are percent, times milliseconds, instants RFC 3339 UTC, unset
 * limits {@code null}. Money is rounded to 10 decimals so sums do not print as {@code 0.30000000000000004}.
 *
 * <p>Recommendations and the health score read a window (see {@link UtilisationHistory}): requests
 * and successes since the oldest sample still in it; average latency is since start, as the broker
 * keeps only a running mean.
 */
public final class AdminViews {
    private static final DateTimeFormatter RFC3339 =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final KeymuxConfig config;
    private final List<KeyStatus> keys;
    private final BrokerMetrics brokerMetrics;
    private final int replicas;

    /** A view over one snapshot: {@code keys} from {@code broker.keyStates()}, {@code brokerMetrics} from {@code broker.metrics()}. */
    public AdminViews(KeymuxConfig config, List<KeyStatus> keys, BrokerMetrics brokerMetrics) {
        this(config, keys, brokerMetrics, 1);
    }

    /** A view as above, for {@code replicas} live replicas sharing the key state ({@code /admin/health}). */
    public AdminViews(KeymuxConfig config, List<KeyStatus> keys, BrokerMetrics brokerMetrics, int replicas) {
        this.config = Objects.requireNonNull(config, "config");
        this.keys = List.copyOf(keys);
        this.brokerMetrics = Objects.requireNonNull(brokerMetrics, "brokerMetrics");
        this.replicas = replicas;
    }

    /**
     * {@code /admin/metrics}. {@code total_requests} and {@code overall_success_rate} count client
     * requests ({@code clientRequests}, of which {@code clientSuccesses} ended below 400), so a
     * failed-over request counts once; each key's {@code total_requests} counts its attempts.
     */
    public Map<String, Object> metrics(long clientRequests, long clientSuccesses) {
        double cost = 0;
        Map<String, Object> keyMetrics = new LinkedHashMap<>();
        Map<String, Object> costAnalysis = new LinkedHashMap<>();
        for (KeyStatus k : keys) {
            cost += k.totalCost();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("total_requests", k.totalRequests());
            m.put("success_rate", round(k.successRatePercent(), 3));
            m.put("average_response_time", round(k.averageLatencyMillis(), 3));
            m.put("current_rpm", k.usage().rpm());
            m.put("current_tpm", k.usage().tpm());
            m.put("total_tokens", k.totalTokens());
            m.put("total_cost", money(k.totalCost()));
            m.put("status", k.state().apiName());
            keyMetrics.put(k.keyId(), m);
            costAnalysis.put(k.keyId(), money(k.totalCost()));
        }
        Map<String, Object> tasks = new TreeMap<>();
        brokerMetrics.taskDistribution().forEach((task, perKey) -> tasks.put(task, new TreeMap<>(perKey)));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("total_cost", money(cost));
        body.put("total_requests", clientRequests);
        body.put("overall_success_rate",
                round(clientRequests == 0 ? 100.0 : 100.0 * clientSuccesses / clientRequests, 3));
        body.put("key_metrics", keyMetrics);
        body.put("cost_analysis", costAnalysis);
        body.put("task_distribution", tasks);
        return body;
    }

    /** {@code /admin/keys}. */
    public Map<String, Object> keys() {
        List<Object> list = new ArrayList<>();
        for (KeyStatus k : keys) {
            list.add(key(k));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("keys", list);
        return body;
    }

    /** One key as {@code /admin/keys} lists it, or {@code null} when {@code keyId} is not configured. */
    public @Nullable Map<String, Object> key(String keyId) {
        for (KeyStatus k : keys) {
            if (k.keyId().equals(keyId)) {
                return key(k);
            }
        }
        return null;
    }

    private static Map<String, Object> key(KeyStatus k) {
        Map<String, Object> limits = new LinkedHashMap<>();
        limits.put("rpm", k.limits().rpm());
        limits.put("tpm", k.limits().tpm());
        limits.put("concurrent", k.limits().concurrent());
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("rpm", k.usage().rpm());
        usage.put("tpm", k.usage().tpm());
        usage.put("in_flight", k.usage().inFlight());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("key_id", k.keyId());
        m.put("upstream", k.upstream());
        m.put("task_types", k.taskTypes());
        m.put("status", k.state().apiName());
        m.put("limits", limits);
        m.put("usage", usage);
        m.put("cooldown_until", k.cooldownUntilMillis() == null ? null : rfc3339(k.cooldownUntilMillis()));
        m.put("spend_today", money(k.spendToday()));
        if (!k.models().isEmpty()) {
            Map<String, Object> models = new LinkedHashMap<>();
            k.models().forEach((pattern, model) -> models.put(pattern, modelView(model)));
            m.put("models", models);
        }
        return m;
    }

    /**
     * {@code /admin/history}: the configured keys and tasks, in config order, each series a list of
     * {@value TrafficHistory#STEPS} numbers oldest first; money rounded like the other views.
     */
    public Map<String, Object> history(TrafficHistory history) {
        List<String> keyIds = new ArrayList<>();
        for (ApiKeyConfig k : config.apiKeys()) {
            keyIds.add(k.keyId());
        }
        List<String> taskNames = new ArrayList<>();
        for (TaskConfig t : config.tasks()) {
            taskNames.add(t.name());
        }
        HistorySnapshot snap = history.snapshot(keyIds, taskNames);
        Map<String, Object> keySeries = new LinkedHashMap<>();
        snap.keys().forEach((id, k) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("requests", k.requests());
            m.put("rate_limited", k.rateLimited());
            m.put("failures", k.failures());
            m.put("tokens", k.tokens());
            m.put("cost_usd", money(k.costUsd()));
            keySeries.put(id, m);
        });
        Map<String, Object> taskSeries = new LinkedHashMap<>();
        snap.tasks().forEach((name, t) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("requests", t.requests());
            m.put("latency_p50_ms", rounded(t.latencyP50Ms(), 3));
            m.put("latency_p99_ms", rounded(t.latencyP99Ms(), 3));
            m.put("queue_depth", t.queueDepth());
            m.put("cost_usd", money(t.costUsd()));
            taskSeries.put(name, m);
        });
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("step_s", snap.stepSeconds());
        body.put("start", rfc3339(snap.startMillis()));
        body.put("keys", keySeries);
        body.put("tasks", taskSeries);
        return body;
    }

    private static double[] money(double[] usd) {
        return rounded(usd, 10);
    }

    private static double[] rounded(double[] values, int decimals) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = round(values[i], decimals);
        }
        return out;
    }

    /** One {@code models} bucket of {@code /admin/keys}: {@code {limits, usage, status, cooldown_until}}. */
    private static Map<String, Object> modelView(KeyStatus.ModelStatus model) {
        Map<String, Object> limits = new LinkedHashMap<>();
        limits.put("rpm", model.limits().rpm());
        limits.put("tpm", model.limits().tpm());
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("rpm", model.usage().rpm());
        usage.put("tpm", model.usage().tpm());
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("limits", limits);
        view.put("usage", usage);
        view.put("status", model.state().apiName());
        view.put("cooldown_until", model.cooldownUntilMillis() == null ? null : rfc3339(model.cooldownUntilMillis()));
        return view;
    }

    /** {@code /admin/health} over the window ending at {@code nowNanos}. */
    public Map<String, Object> health(UtilisationHistory history, long nowNanos) {
        List<KeyObservation> observed = observe(history, nowNanos);
        long slow = recommend(observed).recommendations().stream()
                .filter(r -> r.type().equals(Recommendation.SLOW_KEY))
                .map(Recommendation::keyId)
                .distinct()
                .count();
        HealthScore score = HealthScore.of(observed, (int) slow);
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("active_keys", score.activeKeys());
        status.put("total_keys", score.totalKeys());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", score.status());
        body.put("health_score", score.score());
        body.put("api_key_status", status);
        body.put("replicas", replicas);
        return body;
    }

    /** {@code /admin/recommendations} over the window ending at {@code nowNanos}. */
    public Map<String, Object> recommendations(UtilisationHistory history, long nowNanos) {
        Recommender.Recommendations result = recommend(observe(history, nowNanos));
        List<Object> list = new ArrayList<>();
        for (Recommendation r : result.recommendations()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", r.type());
            m.put("message", r.message());
            if (r.keyId() != null) {
                m.put("key_id", r.keyId());
            }
            if (r.task() != null) {
                m.put("task", r.task());
            }
            list.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("optimization_score", result.optimizationScore());
        body.put("recommendations", list);
        return body;
    }

    private Recommender.Recommendations recommend(List<KeyObservation> observed) {
        List<TaskObservation> tasks = new ArrayList<>();
        for (TaskConfig t : config.tasks()) {
            List<String> own = new ArrayList<>();
            for (ApiKeyConfig k : config.apiKeys()) {
                if (k.taskTypes().contains(t.name())) {
                    own.add(k.keyId());
                }
            }
            tasks.add(new TaskObservation(t.name(), t.strategy(), own, t.fallback()));
        }
        return Recommender.defaults().recommend(tasks, observed);
    }

    private List<KeyObservation> observe(UtilisationHistory history, long nowNanos) {
        Map<String, ApiKeyConfig> configs = new HashMap<>();
        for (ApiKeyConfig k : config.apiKeys()) {
            configs.put(k.keyId(), k);
        }
        List<KeyObservation> observed = new ArrayList<>();
        for (KeyStatus k : keys) {
            UtilisationHistory.KeyWindow window = history.window(nowNanos, k);
            ApiKeyConfig c = configs.get(k.keyId());
            List<String> tasks = k.taskTypes().stream().filter(t -> !t.equals(ApiKeyConfig.ANY_TASK)).toList();
            observed.add(new KeyObservation(
                    k.keyId(),
                    tasks,
                    k.taskTypes().contains(ApiKeyConfig.ANY_TASK),
                    k.state().apiName(),
                    window.requests(),
                    window.successes(),
                    k.averageLatencyMillis(),
                    window.highUtilisationShare(),
                    c == null ? 0.0 : (c.inputTokenCost() + c.outputTokenCost()) / 2,
                    c == null ? null : c.dailyBudgetUsd(),
                    k.spendToday(),
                    c == null ? null : c.budgetWarnAt()));
        }
        return observed;
    }

    /** An instant as RFC 3339 UTC with milliseconds. */
    static String rfc3339(long epochMillis) {
        return RFC3339.format(Instant.ofEpochMilli(epochMillis));
    }

    private static double money(double usd) {
        return round(usd, 10);
    }

    private static double round(double value, int decimals) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            return 0.0;
        }
        return BigDecimal.valueOf(value).setScale(decimals, RoundingMode.HALF_UP).doubleValue();
    }
}
