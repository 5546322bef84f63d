package io.keymux.server.demo;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.server.KeymuxServer;
import io.keymux.server.audit.AuditLog;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * One {@code keymux demo} run: the mock upstream, keymux itself (the same {@link KeymuxServer} as
 * {@code serve}), the traffic driver, a progress line, and the closing report.
 */
public final class DemoRun {
    private static final int RATE_PER_SECOND = 30;
    /** Requests a second while {@code --keep} holds the demo open: enough to keep the charts moving. */
    static final int KEEP_RATE_PER_SECOND = 3;

    private final Duration duration;
    private final PrintStream out;
    private final boolean interactive;

    /**
     * @param interactive redraw one progress line in place (a terminal) instead of printing a line
     *     every few seconds (a log, CI)
     */
    public DemoRun(Duration duration, PrintStream out, boolean interactive) {
        this.duration = duration;
        this.out = out;
        this.interactive = interactive;
    }

    /** Runs the demo; returns the exit code (0 when every request got an answer). */
    public int run() {
        return run(null);
    }

    /**
     * Runs the demo; then, with {@code keepUntil} ({@code keymux demo --keep}), leaves the mock
     * upstream, keymux and its dashboard running with a trickle of traffic until {@code keepUntil}
     * completes (Ctrl-C or SIGTERM), and stops. Returns the exit code (0 when every request of the
     * timed run got an answer).
     */
    public int run(@Nullable CompletableFuture<?> keepUntil) {
        quietLogs();
        DemoScenario scenario = new DemoScenario();
        Path workDir;
        try {
            workDir = Files.createTempDirectory("keymux-demo");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (MockUpstream mock = MockUpstream.start(0, scenario.mockKeys(duration))) {
            KeymuxConfig config = scenario.config(mock.port(), workDir);
            try (KeymuxServer keymux = KeymuxServer.start(config)) {
                return drive(scenario, config, mock, keymux, keepUntil);
            }
        } finally {
            deleteQuietly(workDir);
        }
    }

    private int drive(DemoScenario scenario, KeymuxConfig config, MockUpstream mock, KeymuxServer keymux,
            @Nullable CompletableFuture<?> keepUntil) {
        out.printf(Locale.ROOT, "keymux demo: %d tasks, %d keys, mock upstream on 127.0.0.1:%d, keymux on :%d"
                        + " (admin :%d), %d s of traffic%n",
                config.tasks().size(), config.apiKeys().size(), mock.port(), keymux.proxyPort(), keymux.adminPort(),
                duration.toSeconds());
        out.println("faults: chat_primary answers 429 (Retry-After) early on, diagnosis_secondary fails with 500s"
                + " for a while, billing_primary is an invalid key (401)");
        out.println("dashboard: " + dashboardUrl(keymux, scenario)
                + "   (open it in a browser; the token is this run's own)");
        AdminReader admin = new AdminReader(keymux.adminPort(), scenario.adminToken);
        DemoTraffic traffic = new DemoTraffic(keymux.proxyPort(), scenario.clientKey, scenario.mix());
        KeyStateLog states = new KeyStateLog();

        long start = System.nanoTime();
        Duration burstAt = duration.dividedBy(2);
        Mono<Void> steady = traffic.steady(duration, RATE_PER_SECOND);
        Mono<Void> burst = Mono.delay(burstAt)
                .then(traffic.burst(List.of("billing", "finance", "diagnosis"), burstEach()));
        var done = Mono.when(steady, burst).toFuture();

        long nextLine = 0;
        while (!done.isDone()) {
            long elapsed = System.nanoTime() - start;
            states.observe(admin.json("/admin/keys"), elapsed);
            if (interactive || elapsed >= nextLine) {
                progress(traffic.tally, admin, elapsed);
                nextLine = elapsed + TimeUnit.SECONDS.toNanos(Math.max(2, duration.toSeconds() / 5));
            }
            try {
                done.get(interactive ? 250 : 500, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException stillRunning) {
                // Redraw and poll again.
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("demo traffic failed", e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 1;
            }
        }
        long elapsed = System.nanoTime() - start;
        states.observe(admin.json("/admin/keys"), elapsed);
        progress(traffic.tally, admin, elapsed);
        if (interactive) {
            out.println();
        }
        report(config, traffic.tally, admin, states);
        DemoTraffic.Tally t = traffic.tally;
        boolean allAnswered = t.lost.sum() == 0 && t.completed() == t.sent.sum();
        out.printf(Locale.ROOT, "%n%d of %d requests answered: %d by an upstream, %d by a deliberate keymux error,"
                        + " %d lost%n",
                t.answeredByUpstream.sum() + t.keymuxErrors.sum(), t.sent.sum(), t.answeredByUpstream.sum(),
                t.keymuxErrors.sum(), t.lost.sum());
        out.println(allAnswered ? "OK: every request got an answer" : "FAILED: some requests got no answer");
        if (keepUntil != null) {
            keep(keymux, scenario, traffic, keepUntil);
        }
        return allAnswered ? 0 : 1;
    }

    /** The dashboard's address with this run's admin token, which the page moves into sessionStorage. */
    static String dashboardUrl(KeymuxServer keymux, DemoScenario scenario) {
        return "http://127.0.0.1:" + keymux.adminPort() + "/#token="
                + URLEncoder.encode(scenario.adminToken, StandardCharsets.UTF_8);
    }

    /** {@code --keep}: a trickle of traffic until {@code until} completes. */
    private void keep(KeymuxServer keymux, DemoScenario scenario, DemoTraffic traffic, CompletableFuture<?> until) {
        out.printf(Locale.ROOT, "%nStill running (--keep): dashboard %s, proxy http://127.0.0.1:%d,"
                        + " %d requests a second of traffic. Ctrl-C to stop.%n",
                dashboardUrl(keymux, scenario), keymux.proxyPort(), KEEP_RATE_PER_SECOND);
        out.flush();
        Disposable trickle = traffic.steady(Duration.ofDays(365), KEEP_RATE_PER_SECOND).subscribe(
                done -> { }, error -> { });
        try {
            until.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
            // Stopping either way.
        } finally {
            trickle.dispose();
        }
        out.println("stopped");
        out.flush();
    }

    /** Enough at once to outrun the scarce keys for a few seconds, so the queue orders by priority. */
    private int burstEach() {
        return (int) Math.min(40, Math.max(12, duration.toSeconds() * 2));
    }

    private void progress(DemoTraffic.Tally tally, AdminReader admin, long elapsedNanos) {
        double seconds = elapsedNanos / 1e9;
        double share = Math.min(1.0, seconds / Math.max(1, duration.toSeconds()));
        int filled = (int) Math.round(share * 24);
        List<PrometheusText.Sample> metrics = admin.metrics();
        double failovers = PrometheusText.sumBy(metrics, "keymux_failovers_total", "reason").values().stream()
                .mapToDouble(Double::doubleValue).sum();
        JsonNode summary = admin.json("/admin/metrics");
        String line = String.format(Locale.ROOT, "[%s%s] %3.0f%%  %5.1f req/s  answered %d/%d  failovers %.0f"
                        + "  spend $%.4f",
                "#".repeat(filled), "-".repeat(24 - filled), share * 100,
                tally.completed() / Math.max(1.0, seconds), tally.completed(), tally.sent.sum(), failovers,
                summary.path("total_cost").asDouble(0));
        if (interactive) {
            out.print("\r" + line);
        } else {
            out.println(line);
        }
        out.flush();
    }

    private void report(KeymuxConfig config, DemoTraffic.Tally tally, AdminReader admin, KeyStateLog states) {
        JsonNode metrics = admin.json("/admin/metrics");
        JsonNode keys = admin.json("/admin/keys");
        JsonNode health = admin.json("/admin/health");
        JsonNode recommendations = admin.json("/admin/recommendations");
        List<PrometheusText.Sample> prometheus = admin.metrics();

        TextTable answers = new TextTable("Answers by status", "status", "requests");
        new TreeMap<>(tally.byStatus).forEach((status, n) -> answers.row(status, n.sum()));
        tally.keymuxErrorCodes.forEach((code, n) -> answers.row("keymux " + code, n.sum()));
        out.print(answers.render());

        TextTable allocation = new TextTable("Allocation: requests per task and key", "task", "priority", "key",
                "requests", "share");
        for (TaskConfig task : config.tasks()) {
            JsonNode byKey = metrics.path("task_distribution").path(task.name());
            long total = 0;
            for (Iterator<Map.Entry<String, JsonNode>> it = byKey.fields(); it.hasNext(); ) {
                total += it.next().getValue().asLong();
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = byKey.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                allocation.row(task.name(), task.priority(), e.getKey(), e.getValue().asLong(),
                        percent(100.0 * e.getValue().asLong() / Math.max(1, total)));
            }
        }
        out.print(allocation.render());

        TextTable failovers = new TextTable("Failovers by reason", "reason", "task", "count");
        for (PrometheusText.Sample s : prometheus) {
            if (s.name().equals("keymux_failovers_total") && s.value() > 0) {
                failovers.row(s.labels().get("reason"), s.labels().get("task"), (long) s.value());
            }
        }
        out.print(failovers.render());

        TextTable cooled = new TextTable("Keys that left the active state, and why", "key", "state", "first seen",
                "why");
        states.seen.forEach((key, byState) -> byState.forEach((state, atNanos) -> cooled.row(key, state,
                String.format(Locale.ROOT, "%.1fs", atNanos / 1e9), why(state))));
        out.print(cooled.render());

        TextTable waits = new TextTable("Queue wait by task priority", "task", "priority", "waited", "mean wait ms");
        Map<String, Double> waitSum = PrometheusText.sumBy(prometheus, "keymux_queue_wait_seconds_sum", "task");
        Map<String, Double> waitCount = PrometheusText.sumBy(prometheus, "keymux_queue_wait_seconds_count", "task");
        List<TaskConfig> byPriority = new ArrayList<>(config.tasks());
        byPriority.sort(Comparator.comparingInt(TaskConfig::priority).reversed());
        for (TaskConfig task : byPriority) {
            double count = waitCount.getOrDefault(task.name(), 0.0);
            if (count > 0) {
                waits.row(task.name(), task.priority(), (long) count,
                        String.format(Locale.ROOT, "%.1f", 1000 * waitSum.getOrDefault(task.name(), 0.0) / count));
            }
        }
        out.print(waits.render());

        TextTable perKey = new TextTable("Keys: state, tokens and cost", "key", "status", "requests", "success",
                "avg ms", "tokens", "cost USD");
        for (JsonNode k : keys.path("keys")) {
            String id = k.path("key_id").asText();
            JsonNode m = metrics.path("key_metrics").path(id);
            perKey.row(id, k.path("status").asText(), m.path("total_requests").asLong(),
                    percent(m.path("success_rate").asDouble()), Math.round(m.path("average_response_time").asDouble()),
                    m.path("total_tokens").asLong(), usd(m.path("total_cost").asDouble()));
        }
        out.print(perKey.render());

        TextTable perTask = new TextTable("Tasks: tokens and cost", "task", "prompt tokens", "completion tokens",
                "cost USD");
        Map<String, Double> cost = PrometheusText.sumBy(prometheus, "keymux_cost_usd_total", "task");
        Map<String, Map<String, Double>> tokens = new LinkedHashMap<>();
        for (PrometheusText.Sample s : prometheus) {
            if (s.name().equals("keymux_tokens_total")) {
                tokens.computeIfAbsent(s.labels().get("task"), t -> new LinkedHashMap<>())
                        .merge(s.labels().get("kind"), s.value(), Double::sum);
            }
        }
        for (TaskConfig task : config.tasks()) {
            Map<String, Double> t = tokens.getOrDefault(task.name(), Map.of());
            if (!t.isEmpty() || cost.containsKey(task.name())) {
                perTask.row(task.name(), Math.round(t.getOrDefault("prompt", 0.0)),
                        Math.round(t.getOrDefault("completion", 0.0)), usd(cost.getOrDefault(task.name(), 0.0)));
            }
        }
        out.print(perTask.render());

        TextTable cached = new TextTable("Cache: repeated requests answered once", "task", "hits", "coalesced",
                "misses", "bypass", "saved USD");
        Map<String, Double> saved = PrometheusText.sumBy(prometheus, "keymux_cache_saved_cost_usd_total", "task");
        Map<String, Map<String, Double>> results = new LinkedHashMap<>();
        for (PrometheusText.Sample s : prometheus) {
            if (s.name().equals("keymux_cache_requests_total")) {
                results.computeIfAbsent(s.labels().get("task"), t -> new LinkedHashMap<>())
                        .merge(s.labels().get("result"), s.value(), Double::sum);
            }
        }
        for (TaskConfig task : config.tasks()) {
            Map<String, Double> r = results.get(task.name());
            if (task.cache().enabled() && r != null) {
                cached.row(task.name(), Math.round(r.getOrDefault("hit", 0.0)),
                        Math.round(r.getOrDefault("coalesced", 0.0)), Math.round(r.getOrDefault("miss", 0.0)),
                        Math.round(r.getOrDefault("bypass", 0.0)), usd(saved.getOrDefault(task.name(), 0.0)));
            }
        }
        out.print(cached.render());
        out.print(providerCache(config, prometheus));

        out.printf(Locale.ROOT, "%nHealth: %s, score %d/100, %d of %d keys active; total cost %s over %d requests,"
                        + " success %s%n",
                health.path("status").asText("?"), health.path("health_score").asInt(),
                health.path("api_key_status").path("active_keys").asInt(),
                health.path("api_key_status").path("total_keys").asInt(), usd(metrics.path("total_cost").asDouble()),
                metrics.path("total_requests").asLong(), percent(metrics.path("overall_success_rate").asDouble()));
        TextTable recs = new TextTable("Recommendations (optimization score "
                + recommendations.path("optimization_score").asInt() + "/100)", "type", "message");
        for (JsonNode r : recommendations.path("recommendations")) {
            recs.row(r.path("type").asText(), r.path("message").asText());
        }
        out.print(recs.render());
    }

    /**
     * The provider's prompt cache: per key, the share of input tokens the upstream served from its
     * cache ({@code keymux_tokens_total{kind="cached_prompt"}} over {@code kind="prompt"}) and the
     * money that saved at the key's {@code cost_per_cached_input_token}.
     */
    static String providerCache(KeymuxConfig config, List<PrometheusText.Sample> prometheus) {
        Map<String, Double> prompt = new LinkedHashMap<>();
        Map<String, Double> cachedTokens = new LinkedHashMap<>();
        for (PrometheusText.Sample s : prometheus) {
            if (s.name().equals("keymux_tokens_total")) {
                String kind = s.labels().get("kind");
                if ("prompt".equals(kind)) {
                    prompt.merge(s.labels().get("key_id"), s.value(), Double::sum);
                } else if ("cached_prompt".equals(kind)) {
                    cachedTokens.merge(s.labels().get("key_id"), s.value(), Double::sum);
                }
            }
        }
        TextTable table = new TextTable("Provider prompt cache: input tokens the upstream served from its cache",
                "key", "input tokens", "cached", "share", "saved USD");
        double allInput = 0;
        double allCached = 0;
        double allSaved = 0;
        for (ApiKeyConfig key : config.apiKeys()) {
            double input = prompt.getOrDefault(key.keyId(), 0.0);
            double cachedHere = cachedTokens.getOrDefault(key.keyId(), 0.0);
            allInput += input;
            allCached += cachedHere;
            if (cachedHere > 0) {
                double saved = key.cacheSavingUsd(Math.round(cachedHere));
                allSaved += saved;
                table.row(key.keyId(), Math.round(input), Math.round(cachedHere),
                        percent(100.0 * cachedHere / Math.max(1, input)), usd(saved));
            }
        }
        return table.render() + String.format(Locale.ROOT,
                "Provider prompt cache: %s of all %d input tokens served from cache, saving %s USD%n",
                percent(100.0 * allCached / Math.max(1, allInput)), Math.round(allInput), usd(allSaved));
    }

    private static String why(String state) {
        return switch (state) {
            case "cooling_down" -> "upstream 429: cooled down until its Retry-After";
            case "circuit_open" -> "repeated 5xx: circuit opened, then one probe decides";
            case "disabled" -> "upstream 401/403: key invalid or revoked; probed every health.disabled_probe";
            case "quota_exhausted" -> "429 insufficient_quota: out of credit, probed every health.quota_probe";
            case "budget_exhausted" -> "daily budget spent";
            default -> state;
        };
    }

    private static String percent(double value) {
        return String.format(Locale.ROOT, "%.1f%%", value);
    }

    private static String usd(double value) {
        return String.format(Locale.ROOT, "%.4f", value);
    }

    /** The demo prints its own report: the audit lines and routine logs would bury it. */
    private static void quietLogs() {
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
            context.getLogger(AuditLog.LOGGER).setLevel(Level.OFF);
            context.getLogger("io.keymux").setLevel(Level.ERROR);
            context.getLogger("reactor").setLevel(Level.ERROR);
            context.getLogger("io.netty").setLevel(Level.ERROR);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // A temp directory left behind is harmless.
        }
    }

    /** Every non-active state each key was seen in, with when it was first seen. */
    private static final class KeyStateLog {
        final Map<String, Map<String, Long>> seen = new TreeMap<>();

        void observe(JsonNode keys, long elapsedNanos) {
            for (JsonNode k : keys.path("keys")) {
                String status = k.path("status").asText("active");
                if (!status.equals("active")) {
                    seen.computeIfAbsent(k.path("key_id").asText(), id -> new LinkedHashMap<>())
                            .putIfAbsent(status, elapsedNanos);
                }
            }
        }
    }
}
