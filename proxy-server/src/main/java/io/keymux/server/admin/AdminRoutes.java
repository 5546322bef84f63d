package io.keymux.server.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyStatus;
import io.keymux.core.time.TimeSource;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.core.auth.AuthFailures;
import io.keymux.server.audit.AuditRecord;
import io.keymux.server.pipeline.KeymuxError;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.HttpServerRoutes;

/**
 * The admin port (SPEC.md section 5): {@code /healthz}, {@code /readyz}, {@code /metrics} and the
 * dashboard at {@code /} are open; {@code /admin/*} needs {@code Authorization: Bearer <admin.token>}
 * (401 without or with a wrong one, 403 when no token is configured). Every answer is computed from
 * one snapshot of the broker; nothing here blocks.
 */
public final class AdminRoutes implements Consumer<HttpServerRoutes> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DASHBOARD = "/dashboard/index.html";

    private final Supplier<KeymuxConfig> config;
    private final KeyBroker broker;
    private final ProxyMetrics metrics;
    private final InsightSampler insights;
    private final ReadinessSignals signals;
    private final BooleanSupplier draining;
    private final TimeSource time;
    private final byte[] dashboard;
    private final String dashboardPolicy;
    /** Wrong admin tokens per address: later ones are answered slowly. */
    private final AuthFailures tokenFailures;
    /** Key states as of the last scrape, read by the {@code keymux_key_state} gauges. */
    private volatile Map<String, String> scrapedStates = Map.of();

    /**
     * Routes over the current configuration ({@code config} is read per request, so a reload shows
     * at once), the broker, the metrics registry, the sampled window, readiness signals and whether a
     * drain has started.
     */
    public AdminRoutes(Supplier<KeymuxConfig> config, KeyBroker broker, ProxyMetrics metrics, InsightSampler insights,
            ReadinessSignals signals, BooleanSupplier draining, TimeSource time) {
        this.config = Objects.requireNonNull(config, "config");
        this.broker = Objects.requireNonNull(broker, "broker");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.insights = Objects.requireNonNull(insights, "insights");
        this.signals = Objects.requireNonNull(signals, "signals");
        this.draining = Objects.requireNonNull(draining, "draining");
        this.time = Objects.requireNonNull(time, "time");
        this.tokenFailures = new AuthFailures("admin token", time);
        this.dashboard = readDashboard();
        this.dashboardPolicy = contentSecurityPolicy(new String(dashboard, StandardCharsets.UTF_8));
    }

    /**
     * The dashboard's Content-Security-Policy: its one inline script (by hash), inline styles, and
     * requests to this origin only, so nothing it shows can load or send anything elsewhere.
     */
    static String contentSecurityPolicy(String page) {
        int open = page.indexOf("<script>");
        int close = page.indexOf("</script>", open);
        if (open < 0 || close < 0) {
            throw new IllegalStateException(DASHBOARD + " has no inline <script>");
        }
        String script = page.substring(open + "<script>".length(), close);
        String hash;
        try {
            hash = Base64.getEncoder().encodeToString(
                    MessageDigest.getInstance("SHA-256").digest(script.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        return "default-src 'none'; script-src 'sha256-" + hash + "'; style-src 'unsafe-inline'; connect-src 'self';"
                + " img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    /** Every admin route, in one place. */
    @Override
    public void accept(HttpServerRoutes routes) {
        routes.get("/healthz", (req, res) -> json(res, 200, Map.of("status", "ok")))
                .get("/readyz", (req, res) -> readyz(res))
                .get("/metrics", (req, res) -> prometheus(res))
                .get("/", (req, res) -> send(res.header("Content-Security-Policy", dashboardPolicy)
                        .header("Referrer-Policy", "no-referrer")
                        .header("X-Content-Type-Options", "nosniff"), 200, "text/html; charset=utf-8", dashboard))
                .get("/admin/metrics", (req, res) -> authorized(req, res, views -> views.metrics(
                        metrics.history().clientRequests(), metrics.history().clientSuccesses())))
                .get("/admin/history", (req, res) -> authorized(req, res, views -> views.history(metrics.history())))
                .get("/admin/keys", (req, res) -> authorized(req, res, views -> views.keys()))
                .post("/admin/keys/{keyId}/enable", this::enable)
                .get("/admin/health", (req, res) -> authorized(req, res,
                        views -> views.health(insights.history(), time.nanoTime())))
                .get("/admin/recommendations", (req, res) -> authorized(req, res,
                        views -> views.recommendations(insights.history(), time.nanoTime())));
        // POST /admin/reload goes here (answered through refusal(req) like the routes above).
    }

    private Mono<Void> readyz(HttpServerResponse res) {
        Readiness readiness = Readiness.of(config.get(), broker.keyStates(), draining.getAsBoolean(),
                signals.unreadyReasons(), signals.degradedReasons());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", readiness.status());
        body.put("reasons", readiness.reasons());
        return json(res, readiness.ready() ? 200 : 503, body);
    }

    private Mono<Void> prometheus(HttpServerResponse res) {
        List<KeyStatus> keys = broker.keyStates();
        Map<String, String> states = new HashMap<>();
        for (KeyStatus k : keys) {
            states.put(k.keyId(), k.state().apiName());
        }
        scrapedStates = Map.copyOf(states);
        for (KeyStatus k : keys) {
            String keyId = k.keyId();
            metrics.keyState(keyId, this, routes -> routes.scrapedStates.getOrDefault(keyId, ""));
        }
        return send(res, 200, ProxyMetrics.CONTENT_TYPE, metrics.scrape().getBytes(StandardCharsets.UTF_8));
    }

    private Mono<Void> authorized(HttpServerRequest req, HttpServerResponse res,
            Function<AdminViews, Map<String, Object>> view) {
        Mono<Void> refused = refuse(req, res);
        if (refused != null) {
            return refused;
        }
        AdminViews views = new AdminViews(config.get(), broker.keyStates(), broker.metrics(), broker.liveReplicas());
        return json(res, 200, view.apply(views));
    }

    /**
     * {@code POST /admin/keys/{key_id}/enable}: clears the key's {@code disabled},
     * {@code quota_exhausted}, open circuit and cooldown (on every replica with the Redis backend),
     * then answers 200 with the key as {@code /admin/keys} shows it, or 404 for an unknown key. The
     * broker answers without blocking (with Redis, when the shared state was cleared and read again).
     */
    private Mono<Void> enable(HttpServerRequest req, HttpServerResponse res) {
        Mono<Void> refused = refuse(req, res);
        if (refused != null) {
            return refused;
        }
        String raw = req.param("keyId");
        String keyId = raw == null ? "" : QueryStringDecoder.decodeComponent(raw);
        return Mono.fromFuture(() -> broker.enable(keyId)).flatMap(known -> {
            Map<String, Object> key = known
                    ? new AdminViews(config.get(), broker.keyStates(), broker.metrics(), broker.liveReplicas())
                            .key(keyId)
                    : null;
            if (key == null) {
                return AdminAnswers.refused(res, new KeymuxError(404, "unknown_key",
                        "no key with key_id '" + printable(keyId) + "' is configured; GET /admin/keys lists them",
                        null, false));
            }
            return json(res, 200, key);
        });
    }

    /** A key id as sent, for a message: at most 64 visible ASCII characters. */
    private static String printable(String keyId) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < keyId.length() && out.length() < 64; i++) {
            char c = keyId.charAt(i);
            out.append(c >= 0x20 && c < 0x7f && c != '\'' ? c : '?');
        }
        return out.toString();
    }

    /**
     * The answer to a caller that may not use {@code /admin/*} (a wrong token from an address that
     * keeps guessing is answered slowly, see {@link AuthFailures}), or {@code null} when it may.
     */
    public @Nullable Mono<Void> refuse(HttpServerRequest req, HttpServerResponse res) {
        KeymuxError refusal = refusal(req);
        if (refusal == null) {
            return null;
        }
        Duration hold = refusal.status() == 401
                ? tokenFailures.failed(AuditRecord.addressOf(req.remoteAddress()))
                : Duration.ZERO;
        return AdminAnswers.refused(req, res, refusal, hold);
    }

    /**
     * Why {@code req} may not use {@code /admin/*}, or {@code null} when it may. The token is
     * compared in constant time; no message repeats what was presented.
     */
    public @Nullable KeymuxError refusal(HttpServerRequest req) {
        Secret token = config.get().admin().token();
        if (token == null || token.isEmpty()) {
            return new KeymuxError(403, "admin_disabled",
                    "the admin API is off: set admin.token (for example ${KEYMUX_ADMIN_TOKEN}) to use /admin/*",
                    null, false);
        }
        String authorization = req.requestHeaders().get(HttpHeaderNames.AUTHORIZATION);
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return new KeymuxError(401, "invalid_admin_token",
                    "send Authorization: Bearer <admin.token> to use /admin/*", null, false);
        }
        if (!token.matches(authorization.substring(7).trim())) {
            return new KeymuxError(401, "invalid_admin_token", "the admin token does not match admin.token", null, false);
        }
        return null;
    }

    private static Mono<Void> json(HttpServerResponse res, int status, Object body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            return Mono.error(e);
        }
        return send(res, status, "application/json", bytes);
    }

    private static Mono<Void> send(HttpServerResponse res, int status, String contentType, byte[] bytes) {
        return AdminAnswers.send(res, status, contentType, bytes);
    }

    private static byte[] readDashboard() {
        try (InputStream in = AdminRoutes.class.getResourceAsStream(DASHBOARD)) {
            if (in == null) {
                throw new IllegalStateException(DASHBOARD + " is missing from the classpath");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + DASHBOARD, e);
        }
    }
}
