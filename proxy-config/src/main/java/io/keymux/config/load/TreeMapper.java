package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.AdminConfig;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.CacheConfig;
import io.keymux.config.model.CacheStoreConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.MatchRule;
import io.keymux.config.model.ModelLimits;
import io.keymux.config.model.RetryPolicy;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.Timeouts;
import io.keymux.config.model.TlsConfig;
import io.keymux.config.model.UpstreamConfig;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Maps a parsed JSON/YAML tree to {@link KeymuxConfig} by hand, so every problem is reported with
 * its exact path and all problems are collected in one pass. String values are interpolated just
 * before they are typed, which is what lets {@code max_rpm: ${RPM:-100}} become a number.
 *
 * <p>Messages say what was expected: {@code must be > 0 (got -5)}. The offending value is shown as
 * written in the file (before interpolation) and never for secret fields, so neither a literal
 * secret nor an environment variable's value can reach a message.
 */
final class TreeMapper {

    private static final List<String> ROOT_FIELDS = List.of(
            "server", "health", "admin", "limits", "cache", "upstreams", "default_upstream", "default_task", "tasks",
            "api_keys", "clients");
    private static final List<String> SERVER_FIELDS = List.of(
            "port", "admin_port", "max_body_bytes", "task_header", "expose_key_id", "allow_unauthenticated",
            "drain_timeout", "bind", "max_header_bytes", "max_uri_bytes", "request_header_timeout", "idle_timeout",
            "max_connections", "tls", "admin_tls");
    private static final List<String> TLS_FIELDS = List.of("cert_file", "key_file");
    private static final List<String> HEALTH_FIELDS =
            List.of("failure_threshold", "circuit_cooldown", "rate_limit_cooldown", "quota_probe", "disabled_probe",
                    "overload_backoff");
    private static final List<String> ADMIN_FIELDS = List.of("token");
    private static final List<String> LIMITS_FIELDS = List.of("backend", "redis");
    private static final List<String> REDIS_FIELDS = List.of("uri", "timeout", "failure_threshold", "local_share");
    private static final List<String> CACHE_STORE_FIELDS = List.of("max_bytes");
    private static final List<String> UPSTREAM_FIELDS = List.of("base_url", "auth");
    private static final List<String> TASK_FIELDS = List.of(
            "name", "priority", "strategy", "upstream", "match", "fallback", "max_wait", "max_attempts", "retry_on",
            "timeouts", "cache", "health");
    private static final List<String> MATCH_FIELDS = List.of("path", "model", "header", "headers");
    private static final List<String> TIMEOUT_FIELDS = List.of("connect", "first_byte", "idle");
    private static final List<String> CACHE_FIELDS = List.of("enabled", "ttl", "scope", "stream");
    private static final List<String> KEY_FIELDS = List.of(
            "key_id", "api_key", "upstream", "task_types", "max_rpm", "max_tpm", "rpm_burst", "tpm_burst",
            "max_concurrent", "priority", "weight", "cost_per_token", "cost_per_input_token", "cost_per_output_token",
            "daily_budget_usd", "models", "budget_warn_at");
    private static final List<String> MODEL_LIMIT_FIELDS = List.of("max_rpm", "max_tpm");
    private static final List<String> CLIENT_FIELDS =
            List.of("name", "key", "key_sha256", "allowed_tasks", "max_rpm", "daily_budget_usd");

    private static final Pattern DURATION = Pattern.compile("(\\d{1,12})(ms|s|m|h)");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-fA-F]{64}");
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    private static final String DURATION_EXPECTED = "must be a duration like 500ms, 5s, 2m or 1h";

    /** The upstreams that exist without configuration; entries in {@code upstreams} override them. */
    static Map<String, UpstreamConfig> presets() {
        Map<String, UpstreamConfig> presets = new LinkedHashMap<>();
        presets.put("openai", new UpstreamConfig("openai", URI.create("https://api.openai.com"), AuthStyle.BEARER));
        presets.put("nvidia",
                new UpstreamConfig("nvidia", URI.create("https://integrate.api.nvidia.com"), AuthStyle.BEARER));
        presets.put("anthropic", new UpstreamConfig(
                "anthropic", URI.create("https://api.anthropic.com"), AuthStyle.header("x-api-key")));
        return presets;
    }

    private final Interpolator interpolator;
    private final Path baseDir;
    private final List<Problem> problems = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    /**
     * Values that came from a variable, mapped to their text as written ({@code ${NAME}}). A message
     * that names something by value (an unknown upstream, a duplicate key_id) shows the written text
     * instead, so a secret interpolated into the wrong field cannot leak through the message.
     */
    private final Map<String, String> fromVariables = new HashMap<>();
    /** Source lists of clients' allowed_tasks, by client position, to report unknown names in order. */
    private final List<@Nullable JsonNode> clientAllowedNodes = new ArrayList<>();
    /** Set when some key's task_types could not be read, so "task has no key" would be a false alarm. */
    private boolean keysIncomplete;

    /**
     * @param baseDir directory that relative file paths (TLS certificates) are resolved against: the
     *     config file's directory
     */
    TreeMapper(Interpolator interpolator, Path baseDir) {
        this.interpolator = interpolator;
        this.baseDir = baseDir;
    }

    List<Problem> problems() {
        return problems;
    }

    List<String> warnings() {
        return warnings;
    }

    /** Maps the document; returns {@code null} when any problem was found (see {@link #problems()}). */
    @Nullable KeymuxConfig map(JsonNode rootNode, String rootName) {
        if (!rootNode.isObject()) {
            problem(rootName, "must be an object with api_keys (got " + describe(rootNode) + ")");
            return null;
        }
        ObjectNode root = (ObjectNode) rootNode;
        checkFields(root, "", ROOT_FIELDS);

        ServerConfig server = server(root);
        HealthConfig health = health(field(root, "health"), "health", HealthConfig.defaults());
        AdminConfig admin = admin(root);
        LimitsConfig limits = limits(root);
        CacheStoreConfig cacheStore = cacheStore(root);
        Map<String, UpstreamConfig> upstreams = upstreams(root);
        String defaultUpstream = orElse(string(root, "default_upstream", "default_upstream"), "openai");
        String defaultTask = string(root, "default_task", "default_task");

        List<TaskConfig> tasks = new ArrayList<>();
        List<String> taskPaths = new ArrayList<>();
        tasks(root, health, tasks, taskPaths);
        int declaredTasks = tasks.size();

        List<KeyDraft> keys = keys(root);
        List<ClientConfig> clients = new ArrayList<>();
        List<String> clientPaths = new ArrayList<>();
        clients(root, clients, clientPaths);

        deriveTasks(keys, tasks, taskPaths, health, field(root, "tasks") != null);
        Map<String, TaskConfig> byName = new HashMap<>();
        for (TaskConfig t : tasks) {
            byName.putIfAbsent(t.name(), t);
        }

        // Cross references, once every name is known.
        checkUpstream(upstreams, defaultUpstream, "default_upstream");
        if (defaultTask != null && !byName.containsKey(defaultTask)) {
            problem("default_task", "unknown task " + quoted(defaultTask) + expectedOneOf(byName.keySet(), tasks));
        }
        for (int i = 0; i < declaredTasks; i++) {
            TaskConfig t = tasks.get(i);
            String path = taskPaths.get(i);
            if (t.upstream() != null) {
                checkUpstream(upstreams, t.upstream(), path + ".upstream");
            }
            for (int f = 0; f < t.fallback().size(); f++) {
                String target = t.fallback().get(f);
                if (!byName.containsKey(target)) {
                    problem(path + ".fallback[" + f + "]", "unknown task " + quoted(target));
                } else if (target.equals(t.name())) {
                    problem(path + ".fallback[" + f + "]", "a task cannot fall back to itself");
                }
            }
        }
        List<ApiKeyConfig> apiKeys = resolveUpstreams(keys, upstreams, defaultUpstream, byName);
        checkEveryTaskHasAKey(tasks, taskPaths, apiKeys);
        checkAllowedTasks(clientPaths, byName);

        if (!problems.isEmpty()) {
            return null;
        }
        if (clients.isEmpty() && !server.allowUnauthenticated()) {
            warnings.add("no clients are configured and server.allow_unauthenticated is false: protected mode,"
                    + " only loopback callers are served (add a clients entry, or set"
                    + " server.allow_unauthenticated: true)");
        }
        if (admin.token() == null) {
            warnings.add("admin.token is not set: /admin/* answers 403");
        }
        warnKeysSentToAnotherVendor(apiKeys, upstreams);
        return new KeymuxConfig(
                server, health, admin, limits, cacheStore, upstreams, defaultUpstream, defaultTask, tasks, apiKeys, clients);
    }

    // ---------------------------------------------------------------- sections

    private ServerConfig server(ObjectNode root) {
        ServerConfig d = ServerConfig.defaults();
        ObjectNode o = object(field(root, "server"), "server", SERVER_FIELDS);
        if (o == null) {
            return d;
        }
        int port = intOr(port(o, "port", "server.port"), d.port());
        int adminPort = intOr(port(o, "admin_port", "server.admin_port"), d.adminPort());
        if (port == adminPort && port != 0) {
            problem("server.admin_port", "must differ from server.port (got " + adminPort + ")");
        }
        return new ServerConfig(
                port,
                adminPort,
                longOr(positiveLong(o, "max_body_bytes", "server.max_body_bytes"), d.maxBodyBytes()),
                orElse(nonEmptyString(o, "task_header", "server.task_header"), d.taskHeader()),
                boolOr(bool(o, "expose_key_id", "server.expose_key_id"), d.exposeKeyId()),
                boolOr(bool(o, "allow_unauthenticated", "server.allow_unauthenticated"), d.allowUnauthenticated()),
                orElse(duration(o, "drain_timeout", "server.drain_timeout", false), d.drainTimeout()),
                orElse(nonEmptyString(o, "bind", "server.bind"), d.bind()),
                intOr(positiveInt(o, "max_header_bytes", "server.max_header_bytes"), d.maxHeaderBytes()),
                intOr(positiveInt(o, "max_uri_bytes", "server.max_uri_bytes"), d.maxUriBytes()),
                orElse(duration(o, "request_header_timeout", "server.request_header_timeout", true),
                        d.requestHeaderTimeout()),
                orElse(duration(o, "idle_timeout", "server.idle_timeout", true), d.idleTimeout()),
                intOr(positiveInt(o, "max_connections", "server.max_connections"), d.maxConnections()),
                tls(field(o, "tls"), "server.tls"),
                tls(field(o, "admin_tls"), "server.admin_tls"));
    }

    private @Nullable TlsConfig tls(@Nullable JsonNode node, String path) {
        ObjectNode o = object(node, path, TLS_FIELDS);
        if (o == null) {
            return null;
        }
        Path cert = file(o, "cert_file", path + ".cert_file");
        Path key = file(o, "key_file", path + ".key_file");
        return cert == null || key == null ? null : new TlsConfig(cert, key);
    }

    private @Nullable Path file(ObjectNode o, String f, String path) {
        String name = required(o, f, path) ? nonEmptyString(o, f, path) : null;
        if (name == null) {
            return null;
        }
        try {
            Path p = baseDir.resolve(name).normalize();
            if (!Files.isRegularFile(p)) {
                problem(path, "file not found (got " + got(o.get(f)) + ", resolved against " + baseDir + ")");
            }
            return p;
        } catch (InvalidPathException e) {
            problem(path, "must be a file path (got " + got(o.get(f)) + ")");
            return null;
        }
    }

    private HealthConfig health(@Nullable JsonNode node, String path, HealthConfig base) {
        ObjectNode o = object(node, path, HEALTH_FIELDS);
        if (o == null) {
            return base;
        }
        int failureThreshold =
                intOr(positiveInt(o, "failure_threshold", path + ".failure_threshold"), base.failureThreshold());
        Duration circuitCooldown =
                orElse(duration(o, "circuit_cooldown", path + ".circuit_cooldown", true), base.circuitCooldown());
        Duration rateLimitCooldown =
                orElse(duration(o, "rate_limit_cooldown", path + ".rate_limit_cooldown", true), base.rateLimitCooldown());
        Duration quotaProbe = orElse(duration(o, "quota_probe", path + ".quota_probe", true), base.quotaProbe());
        Duration disabledProbe = base.disabledProbe();
        JsonNode probe = field(o, "disabled_probe");
        if (probe != null) {
            String written = probe.isTextual() ? interpolateQuietly(probe.textValue()) : null;
            disabledProbe = written != null && written.strip().equals("off")
                    ? null
                    : orElse(duration(o, "disabled_probe", path + ".disabled_probe", true), base.disabledProbe());
        }
        Duration overloadBackoff =
                orElse(duration(o, "overload_backoff", path + ".overload_backoff", true), base.overloadBackoff());
        return new HealthConfig(
                failureThreshold, circuitCooldown, rateLimitCooldown, quotaProbe, disabledProbe, overloadBackoff);
    }

    private AdminConfig admin(ObjectNode root) {
        ObjectNode o = object(field(root, "admin"), "admin", ADMIN_FIELDS);
        if (o == null) {
            return new AdminConfig(null);
        }
        String token = secret(o, "token", "admin.token");
        // An empty token (${KEYMUX_ADMIN_TOKEN:-}) means "no admin API", like an absent one.
        return new AdminConfig(token == null || token.isEmpty() ? null : Secret.of(token));
    }

    private LimitsConfig limits(ObjectNode root) {
        LimitsConfig d = LimitsConfig.defaults();
        ObjectNode o = object(field(root, "limits"), "limits", LIMITS_FIELDS);
        if (o == null) {
            return d;
        }
        LimitsConfig.Backend backend = d.backend();
        String b = string(o, "backend", "limits.backend");
        if (b != null) {
            switch (b) {
                case "local" -> backend = LimitsConfig.Backend.LOCAL;
                case "redis" -> backend = LimitsConfig.Backend.REDIS;
                default -> problem("limits.backend", "must be local or redis (got " + got(o.get("backend")) + ")");
            }
        }
        LimitsConfig.RedisConfig redis = d.redis();
        ObjectNode r = object(field(o, "redis"), "limits.redis", REDIS_FIELDS);
        if (r != null) {
            String uri = string(r, "uri", "limits.redis.uri");
            if (uri != null && !(uri.startsWith("redis://") || uri.startsWith("rediss://"))) {
                problem("limits.redis.uri", "must start with redis:// or rediss:// (got " + got(r.get("uri")) + ")");
            }
            Duration timeout = orElse(duration(r, "timeout", "limits.redis.timeout", true), redis.timeout());
            int failureThreshold = intOr(positiveInt(r, "failure_threshold", "limits.redis.failure_threshold"),
                    redis.failureThreshold());
            Double share = redis.localShare();
            JsonNode shareNode = field(r, "local_share");
            String shareText = shareNode != null && shareNode.isTextual()
                    ? interpolateQuietly(shareNode.textValue())
                    : null;
            if (shareText != null && shareText.strip().equals("auto")) {
                share = null;
            } else if (shareNode != null) {
                Double fixed = number(r, "local_share", "limits.redis.local_share");
                if (fixed != null && !(fixed > 0 && fixed <= 1)) {
                    problem("limits.redis.local_share",
                            "must be auto, or a number > 0 and <= 1 (got " + got(r.get("local_share")) + ")");
                }
                share = fixed;
            }
            redis = new LimitsConfig.RedisConfig(orElse(uri, redis.uri()), timeout, failureThreshold, share);
        }
        return new LimitsConfig(backend, redis);
    }

    private CacheStoreConfig cacheStore(ObjectNode root) {
        ObjectNode o = object(field(root, "cache"), "cache", CACHE_STORE_FIELDS);
        if (o == null) {
            return CacheStoreConfig.defaults();
        }
        return new CacheStoreConfig(
                longOr(positiveLong(o, "max_bytes", "cache.max_bytes"), CacheStoreConfig.DEFAULT_MAX_BYTES));
    }

    private Map<String, UpstreamConfig> upstreams(ObjectNode root) {
        Map<String, UpstreamConfig> upstreams = presets();
        JsonNode node = field(root, "upstreams");
        if (node == null) {
            return upstreams;
        }
        if (!node.isObject()) {
            problem("upstreams", "must be an object of name: {base_url, auth} (got " + describe(node) + ")");
            return upstreams;
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String name = e.getKey();
            String path = "upstreams." + name;
            if (name.isEmpty() || name.equals(ApiKeyConfig.ANY_TASK)) {
                problem(path, "invalid upstream name");
                continue;
            }
            ObjectNode o = object(e.getValue(), path, UPSTREAM_FIELDS);
            if (o == null) {
                if (e.getValue().isNull()) {
                    problem(path, "must be an object with base_url and auth");
                }
                continue;
            }
            UpstreamConfig preset = upstreams.get(name);
            URI baseUrl = preset != null ? preset.baseUrl() : null;
            if (preset == null && !o.has("base_url")) {
                problem(path + ".base_url", "is required");
            }
            String url = string(o, "base_url", path + ".base_url");
            if (url != null) {
                baseUrl = baseUrl(url, o.get("base_url"), path + ".base_url");
            }
            AuthStyle auth = preset != null ? preset.auth() : AuthStyle.BEARER;
            String a = string(o, "auth", path + ".auth");
            if (a != null) {
                AuthStyle parsed = auth(a);
                if (parsed == null) {
                    problem(path + ".auth", "must be bearer, header:NAME or query:NAME (got " + got(o.get("auth")) + ")");
                } else {
                    auth = parsed;
                }
            }
            if (baseUrl != null) {
                upstreams.put(name, new UpstreamConfig(name, baseUrl, auth));
            }
        }
        return upstreams;
    }

    private @Nullable URI baseUrl(String url, JsonNode raw, String path) {
        String expected = "must be an absolute http or https URL with a host, without query or fragment (got "
                + got(raw) + ")";
        try {
            URI u = new URI(url.strip());
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
            if (!(scheme.equals("http") || scheme.equals("https")) || u.getHost() == null || u.getRawQuery() != null
                    || u.getRawFragment() != null || u.getRawUserInfo() != null) {
                problem(path, expected);
                return null;
            }
            String p = u.getRawPath() == null ? "" : u.getRawPath();
            while (p.endsWith("/")) {
                p = p.substring(0, p.length() - 1);
            }
            return URI.create(scheme + "://" + u.getRawAuthority() + p);
        } catch (URISyntaxException e) {
            problem(path, expected);
            return null;
        }
    }

    /** {@code bearer}, {@code header:NAME} or {@code query:NAME}; {@code null} if malformed. */
    static @Nullable AuthStyle auth(String spec) {
        if (spec.equals("bearer")) {
            return AuthStyle.BEARER;
        }
        int colon = spec.indexOf(':');
        if (colon < 0) {
            return null;
        }
        String kind = spec.substring(0, colon);
        String name = spec.substring(colon + 1);
        if (!TOKEN.matcher(name).matches()) {
            return null;
        }
        return switch (kind) {
            case "header" -> AuthStyle.header(name);
            case "query" -> AuthStyle.query(name);
            default -> null;
        };
    }

    private void tasks(ObjectNode root, HealthConfig health, List<TaskConfig> tasks, List<String> paths) {
        JsonNode node = field(root, "tasks");
        if (node == null) {
            return;
        }
        if (!node.isArray()) {
            problem("tasks", "must be a list (got " + describe(node) + ")");
            return;
        }
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < node.size(); i++) {
            String path = "tasks[" + i + "]";
            ObjectNode o = object(node.get(i), path, TASK_FIELDS);
            if (o == null) {
                if (node.get(i).isNull()) {
                    problem(path, "must be an object with a name");
                }
                continue;
            }
            String name = required(o, "name", path + ".name") ? nonEmptyString(o, "name", path + ".name") : null;
            if (name != null && name.equals(ApiKeyConfig.ANY_TASK)) {
                problem(path + ".name", "\"*\" is reserved: in a key's task_types it lends the key to every task");
                name = null;
            }
            if (name != null) {
                String first = seen.putIfAbsent(name, path);
                if (first != null) {
                    problem(path + ".name", "duplicate task " + quoted(name) + " (first at " + first + ")");
                }
            }
            Strategy strategy = Strategy.ROUND_ROBIN;
            String s = string(o, "strategy", path + ".strategy");
            if (s != null) {
                Strategy parsed = Strategy.fromConfigName(s).orElse(null);
                if (parsed == null) {
                    problem(path + ".strategy", "unknown strategy " + got(o.get("strategy")) + " (expected one of: "
                            + Arrays.stream(Strategy.values()).map(Strategy::configName)
                                    .collect(Collectors.joining(", ")) + ")");
                } else {
                    strategy = parsed;
                }
            }
            Integer maxAttempts = integerIn(o, "max_attempts", path + ".max_attempts", 1, 100);
            List<String> fallback = stringList(o, "fallback", path + ".fallback");
            TaskConfig task = new TaskConfig(
                    name == null ? "" : name,
                    intOr(integerIn(o, "priority", path + ".priority", Integer.MIN_VALUE, Integer.MAX_VALUE), 0),
                    strategy,
                    string(o, "upstream", path + ".upstream"),
                    match(field(o, "match"), path + ".match"),
                    fallback == null ? List.of() : fallback,
                    orElse(duration(o, "max_wait", path + ".max_wait", false), TaskConfig.DEFAULT_MAX_WAIT),
                    intOr(maxAttempts, TaskConfig.DEFAULT_MAX_ATTEMPTS),
                    retryOn(field(o, "retry_on"), path + ".retry_on"),
                    timeouts(field(o, "timeouts"), path + ".timeouts"),
                    cache(field(o, "cache"), path + ".cache"),
                    health(field(o, "health"), path + ".health", health));
            tasks.add(task);
            paths.add(path);
        }
    }

    private @Nullable MatchRule match(@Nullable JsonNode node, String path) {
        ObjectNode o = object(node, path, MATCH_FIELDS);
        if (o == null) {
            return null;
        }
        String p = string(o, "path", path + ".path");
        if (p != null && !p.startsWith("/")) {
            problem(path + ".path", "must start with / (got " + got(o.get("path")) + ")");
        }
        Map<String, String> headers = new LinkedHashMap<>();
        for (String f : List.of("header", "headers")) {
            JsonNode h = field(o, f);
            if (h == null) {
                continue;
            }
            if (!h.isObject()) {
                problem(path + "." + f, "must be an object of header name: value (got " + describe(h) + ")");
                continue;
            }
            for (Map.Entry<String, JsonNode> e : h.properties()) {
                String value = string((ObjectNode) h, e.getKey(), path + "." + f + "." + e.getKey());
                if (!TOKEN.matcher(e.getKey()).matches()) {
                    problem(path + "." + f + "." + e.getKey(), "invalid header name");
                } else if (value != null) {
                    headers.put(e.getKey(), value);
                }
            }
        }
        return new MatchRule(p, string(o, "model", path + ".model"), headers);
    }

    private RetryPolicy retryOn(@Nullable JsonNode node, String path) {
        if (node == null) {
            return RetryPolicy.defaults();
        }
        if (!node.isArray()) {
            problem(path, "must be a list (got " + describe(node) + ")");
            return RetryPolicy.defaults();
        }
        Set<Integer> statuses = new LinkedHashSet<>();
        boolean connectError = false;
        boolean timeout = false;
        for (int i = 0; i < node.size(); i++) {
            JsonNode e = node.get(i);
            String p = path + "[" + i + "]";
            String text = e.isTextual() ? interpolate(e.textValue(), p) : e.isIntegralNumber() ? e.asText() : null;
            if (e.isTextual() && text == null) {
                continue;
            }
            if ("connect_error".equals(text)) {
                connectError = true;
            } else if ("timeout".equals(text)) {
                timeout = true;
            } else {
                int status = text != null && text.matches("\\d{3}") ? Integer.parseInt(text) : -1;
                if (status >= 400 && status <= 599) {
                    statuses.add(status);
                } else {
                    problem(p, "must be an HTTP status 400-599, connect_error or timeout (got " + got(e) + ")");
                }
            }
        }
        return new RetryPolicy(statuses, connectError, timeout);
    }

    private Timeouts timeouts(@Nullable JsonNode node, String path) {
        Timeouts d = Timeouts.defaults();
        ObjectNode o = object(node, path, TIMEOUT_FIELDS);
        if (o == null) {
            return d;
        }
        return new Timeouts(
                orElse(duration(o, "connect", path + ".connect", true), d.connect()),
                orElse(duration(o, "first_byte", path + ".first_byte", true), d.firstByte()),
                orElse(duration(o, "idle", path + ".idle", true), d.idle()));
    }

    private CacheConfig cache(@Nullable JsonNode node, String path) {
        CacheConfig d = CacheConfig.disabled();
        ObjectNode o = object(node, path, CACHE_FIELDS);
        if (o == null) {
            return d;
        }
        CacheConfig.Scope scope = d.scope();
        String s = string(o, "scope", path + ".scope");
        if (s != null) {
            Optional<CacheConfig.Scope> parsed = CacheConfig.Scope.fromConfigName(s);
            if (parsed.isPresent()) {
                scope = parsed.get();
            } else {
                problem(path + ".scope", "must be client, task or global (got " + got(o.get("scope")) + ")");
            }
        }
        return new CacheConfig(
                boolOr(bool(o, "enabled", path + ".enabled"), d.enabled()),
                orElse(duration(o, "ttl", path + ".ttl", true), d.ttl()),
                scope,
                boolOr(bool(o, "stream", path + ".stream"), d.stream()));
    }

    /** An api_keys entry before its upstream can be resolved (that needs every task). */
    private record KeyDraft(
            String path,
            String keyId,
            Secret apiKey,
            @Nullable String ownUpstream,
            List<String> taskTypes,
            @Nullable Long maxRpm,
            @Nullable Long maxTpm,
            @Nullable Long rpmBurst,
            @Nullable Long tpmBurst,
            @Nullable Integer maxConcurrent,
            int priority,
            int weight,
            @Nullable Double costPerToken,
            @Nullable Double costPerInputToken,
            @Nullable Double costPerOutputToken,
            @Nullable Double dailyBudgetUsd,
            List<ModelLimits> models,
            @Nullable Double budgetWarnAt) {

        ApiKeyConfig build(String upstream) {
            return new ApiKeyConfig(keyId, apiKey, upstream, taskTypes, maxRpm, maxTpm,
                    rpmBurst != null ? rpmBurst : maxRpm, tpmBurst != null ? tpmBurst : maxTpm, maxConcurrent,
                    priority, weight, costPerToken, costPerInputToken, costPerOutputToken, dailyBudgetUsd, models,
                    budgetWarnAt);
        }
    }

    private List<KeyDraft> keys(ObjectNode root) {
        List<KeyDraft> keys = new ArrayList<>();
        JsonNode node = field(root, "api_keys");
        if (node == null || !node.isArray()) {
            // Without keys, "task has no key" would repeat this problem once per task.
            keysIncomplete = true;
            problem("api_keys", node == null
                    ? "is required (expected: a list of at least one key)"
                    : "must be a list (got " + describe(node) + ")");
            return keys;
        }
        if (node.isEmpty()) {
            problem("api_keys", "must list at least one key");
        }
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < node.size(); i++) {
            String path = "api_keys[" + i + "]";
            ObjectNode o = object(node.get(i), path, KEY_FIELDS);
            if (o == null) {
                keysIncomplete = true;
                if (node.get(i).isNull()) {
                    problem(path, "must be an object with key_id and api_key");
                }
                continue;
            }
            String keyId = required(o, "key_id", path + ".key_id") ? nonEmptyString(o, "key_id", path + ".key_id") : null;
            if (keyId != null) {
                String first = seen.putIfAbsent(keyId, path);
                if (first != null) {
                    problem(path + ".key_id", "duplicate key_id " + quoted(keyId) + " (first at " + first + ")");
                }
            }
            String apiKey = null;
            if (required(o, "api_key", path + ".api_key")) {
                apiKey = secret(o, "api_key", path + ".api_key");
                if (apiKey != null && apiKey.isBlank()) {
                    problem(path + ".api_key", "must not be empty");
                }
            }
            List<String> taskTypes = null;
            int before = problems.size();
            if (required(o, "task_types", path + ".task_types")) {
                taskTypes = stringList(o, "task_types", path + ".task_types");
            }
            if (problems.size() > before) {
                keysIncomplete = true;
            }
            if (taskTypes != null && taskTypes.isEmpty() && problems.size() == before) {
                problem(path + ".task_types", "must list at least one task, or \"*\"");
            }
            Long maxRpm = positiveLong(o, "max_rpm", path + ".max_rpm");
            Long maxTpm = positiveLong(o, "max_tpm", path + ".max_tpm");
            Long rpmBurst = positiveLong(o, "rpm_burst", path + ".rpm_burst");
            Long tpmBurst = positiveLong(o, "tpm_burst", path + ".tpm_burst");
            if (rpmBurst != null && maxRpm == null && !o.has("max_rpm")) {
                problem(path + ".rpm_burst", "requires max_rpm");
            }
            if (tpmBurst != null && maxTpm == null && !o.has("max_tpm")) {
                problem(path + ".tpm_burst", "requires max_tpm");
            }
            keys.add(new KeyDraft(
                    path,
                    keyId == null ? "" : keyId,
                    Secret.of(apiKey == null ? "" : apiKey),
                    string(o, "upstream", path + ".upstream"),
                    taskTypes == null ? List.of() : taskTypes,
                    maxRpm,
                    maxTpm,
                    rpmBurst,
                    tpmBurst,
                    positiveInt(o, "max_concurrent", path + ".max_concurrent"),
                    intOr(integerIn(o, "priority", path + ".priority", Integer.MIN_VALUE, Integer.MAX_VALUE), 0),
                    intOr(positiveInt(o, "weight", path + ".weight"), 1),
                    nonNegative(o, "cost_per_token", path + ".cost_per_token"),
                    nonNegative(o, "cost_per_input_token", path + ".cost_per_input_token"),
                    nonNegative(o, "cost_per_output_token", path + ".cost_per_output_token"),
                    nonNegative(o, "daily_budget_usd", path + ".daily_budget_usd"),
                    modelLimits(field(o, "models"), path + ".models"),
                    budgetWarnAt(o, path)));
        }
        return keys;
    }

    private List<ModelLimits> modelLimits(@Nullable JsonNode node, String path) {
        List<ModelLimits> models = new ArrayList<>();
        if (node == null) {
            return models;
        }
        if (!node.isObject()) {
            problem(path, "must be a map of model pattern to {max_rpm, max_tpm} (got " + describe(node) + ")");
            return models;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String entryPath = path + "[\"" + e.getKey() + "\"]";
            if (e.getKey().isBlank()) {
                problem(path, "a model pattern must not be empty");
                continue;
            }
            ObjectNode o = object(e.getValue(), entryPath, MODEL_LIMIT_FIELDS);
            if (o == null) {
                if (e.getValue().isNull()) {
                    problem(entryPath, "must be an object with max_rpm and/or max_tpm");
                }
                continue;
            }
            Long rpm = positiveLong(o, "max_rpm", entryPath + ".max_rpm");
            Long tpm = positiveLong(o, "max_tpm", entryPath + ".max_tpm");
            if (field(o, "max_rpm") == null && field(o, "max_tpm") == null) {
                problem(entryPath, "must set max_rpm or max_tpm");
            }
            models.add(new ModelLimits(e.getKey(), rpm, tpm));
        }
        return models;
    }

    private @Nullable Double budgetWarnAt(ObjectNode o, String path) {
        Double share = number(o, "budget_warn_at", path + ".budget_warn_at");
        if (share != null && !(share > 0 && share <= 1)) {
            problem(path + ".budget_warn_at", "must be > 0 and <= 1 (got " + got(o.get("budget_warn_at")) + ")");
            return null;
        }
        if (share != null && field(o, "daily_budget_usd") == null) {
            problem(path + ".budget_warn_at", "requires daily_budget_usd");
        }
        return share;
    }

    private void clients(ObjectNode root, List<ClientConfig> clients, List<String> paths) {
        JsonNode node = field(root, "clients");
        if (node == null) {
            return;
        }
        if (!node.isArray()) {
            problem("clients", "must be a list (got " + describe(node) + ")");
            return;
        }
        Map<String, String> seenNames = new HashMap<>();
        Map<String, String> seenKeys = new HashMap<>();
        for (int i = 0; i < node.size(); i++) {
            String path = "clients[" + i + "]";
            ObjectNode o = object(node.get(i), path, CLIENT_FIELDS);
            if (o == null) {
                if (node.get(i).isNull()) {
                    problem(path, "must be an object with name and key or key_sha256");
                }
                continue;
            }
            String name = required(o, "name", path + ".name") ? nonEmptyString(o, "name", path + ".name") : null;
            if (name != null) {
                String first = seenNames.putIfAbsent(name, path);
                if (first != null) {
                    problem(path + ".name", "duplicate client " + quoted(name) + " (first at " + first + ")");
                }
            }
            boolean hasKey = field(o, "key") != null;
            boolean hasSha = field(o, "key_sha256") != null;
            if (hasKey == hasSha) {
                problem(path, "exactly one of key and key_sha256 must be set");
            }
            Secret key = null;
            String sha = null;
            if (hasKey) {
                String k = secret(o, "key", path + ".key");
                if (k != null && k.isBlank()) {
                    problem(path + ".key", "must not be empty");
                } else if (k != null) {
                    key = Secret.of(k);
                    sha = sha256Hex(k);
                }
            }
            if (hasSha) {
                String s = string(o, "key_sha256", path + ".key_sha256");
                if (s != null && !SHA256_HEX.matcher(s).matches()) {
                    problem(path + ".key_sha256", "must be 64 hex characters (the SHA-256 of the client key)");
                } else if (s != null) {
                    sha = s.toLowerCase(Locale.ROOT);
                }
            }
            if (sha != null && hasKey != hasSha) {
                // Compare digests so two clients sharing a key are caught without handling the key itself.
                String first = seenKeys.putIfAbsent(sha, path);
                if (first != null) {
                    problem(path, "same client key as " + first + " (each client needs its own key)");
                }
            }
            List<String> allowed = stringList(o, "allowed_tasks", path + ".allowed_tasks");
            clientAllowedNodes.add(field(o, "allowed_tasks"));
            clients.add(new ClientConfig(
                    name == null ? "" : name,
                    key,
                    hasSha ? sha : null,
                    allowed == null ? null : new LinkedHashSet<>(allowed),
                    positiveLong(o, "max_rpm", path + ".max_rpm"),
                    nonNegative(o, "daily_budget_usd", path + ".daily_budget_usd")));
            paths.add(path);
        }
    }

    /**
     * Seed-format compatibility, applied to every config: a task named in some key's task_types but
     * not declared under tasks is created with the defaults, in first-seen order. When a tasks block
     * exists this is probably a typo, so it is also a warning.
     */
    private void deriveTasks(
            List<KeyDraft> keys, List<TaskConfig> tasks, List<String> paths, HealthConfig health, boolean declared) {
        Set<String> known = tasks.stream().map(TaskConfig::name).collect(Collectors.toCollection(LinkedHashSet::new));
        for (KeyDraft k : keys) {
            for (int t = 0; t < k.taskTypes.size(); t++) {
                String type = k.taskTypes.get(t);
                if (type.equals(ApiKeyConfig.ANY_TASK) || type.isEmpty() || !known.add(type)) {
                    continue;
                }
                tasks.add(TaskConfig.withDefaults(type, health));
                paths.add(k.path + ".task_types[" + t + "]");
                if (declared) {
                    warnings.add(k.path + ".task_types[" + t + "]: task " + quoted(type)
                            + " is not declared under tasks; it gets the default task settings");
                }
            }
        }
    }

    /** Each key's upstream: its own, else its first task's, else default_upstream. */
    private List<ApiKeyConfig> resolveUpstreams(List<KeyDraft> keys, Map<String, UpstreamConfig> upstreams,
            String defaultUpstream, Map<String, TaskConfig> byName) {
        List<ApiKeyConfig> apiKeys = new ArrayList<>();
        for (KeyDraft k : keys) {
            String upstream = k.ownUpstream;
            if (upstream != null) {
                checkUpstream(upstreams, upstream, k.path + ".upstream");
            } else {
                upstream = defaultUpstream;
                for (String type : k.taskTypes) {
                    if (!type.equals(ApiKeyConfig.ANY_TASK)) {
                        TaskConfig t = byName.get(type);
                        if (t != null && t.upstream() != null) {
                            upstream = t.upstream();
                        }
                        break;
                    }
                }
            }
            apiKeys.add(k.build(upstream));
        }
        return apiKeys;
    }

    /** allowed_tasks names, reported in file order (the model holds a set, so walk the source lists). */
    private void checkAllowedTasks(List<String> clientPaths, Map<String, TaskConfig> byName) {
        for (int c = 0; c < clientPaths.size(); c++) {
            JsonNode list = clientAllowedNodes.get(c);
            if (list == null || !list.isArray()) {
                continue;
            }
            for (int a = 0; a < list.size(); a++) {
                String name = list.get(a).isTextual() ? interpolateQuietly(list.get(a).textValue()) : null;
                if (name != null && !byName.containsKey(name)) {
                    problem(clientPaths.get(c) + ".allowed_tasks[" + a + "]", "unknown task " + quoted(name));
                }
            }
        }
    }

    private void checkEveryTaskHasAKey(
            List<TaskConfig> tasks, List<String> paths, List<ApiKeyConfig> keys) {
        boolean anyKey = keys.stream().anyMatch(ApiKeyConfig::servesAnyTask);
        if (anyKey || keysIncomplete) {
            return;
        }
        Set<String> served = new HashSet<>();
        for (ApiKeyConfig k : keys) {
            served.addAll(k.taskTypes());
        }
        for (int i = 0; i < tasks.size(); i++) {
            TaskConfig t = tasks.get(i);
            if (t.name().isEmpty() || served.contains(t.name())) {
                continue;
            }
            boolean viaFallback = t.fallback().stream().anyMatch(served::contains);
            if (!viaFallback) {
                problem(paths.get(i), "task " + quoted(t.name()) + " has no key (expected: an api_keys entry listing it"
                        + " in task_types, a fallback task with keys, or a key with task_types [\"*\"])");
            }
        }
    }

    /** Key prefixes that vendors publish, with the host of the vendor that issues them. */
    private static final Map<String, String> VENDOR_PREFIXES =
            Map.of("nvapi-", "integrate.api.nvidia.com", "sk-ant-", "api.anthropic.com");

    /**
     * A seed-format file has no upstreams, so its keys go to default_upstream (openai). Sending an
     * NVIDIA key to OpenAI fails every request and hands the key to the wrong vendor, so say so when
     * a key with a vendor's published prefix goes to another known vendor's host. Only the public
     * prefix is named, never the key.
     */
    private void warnKeysSentToAnotherVendor(List<ApiKeyConfig> keys, Map<String, UpstreamConfig> upstreams) {
        Set<String> vendorHosts = new HashSet<>(VENDOR_PREFIXES.values());
        vendorHosts.add("api.openai.com");
        Map<Misroute, List<String>> misrouted = new LinkedHashMap<>();
        for (ApiKeyConfig k : keys) {
            UpstreamConfig upstream = upstreams.get(k.upstream());
            String host = upstream == null ? null : upstream.baseUrl().getHost();
            for (Map.Entry<String, String> vendor : VENDOR_PREFIXES.entrySet()) {
                if (k.apiKey().reveal().startsWith(vendor.getKey()) && host != null && vendorHosts.contains(host)
                        && !host.equals(vendor.getValue())) {
                    misrouted.computeIfAbsent(new Misroute(vendor.getKey(), upstream), x -> new ArrayList<>())
                            .add(k.keyId());
                }
            }
        }
        misrouted.forEach((m, keyIds) -> warnings.add("api_keys " + String.join(", ", keyIds)
                + ": the key looks issued for " + VENDOR_PREFIXES.get(m.prefix()) + " (" + m.prefix()
                + "...) but goes to upstream '" + m.upstream().name() + "' (" + m.upstream().baseUrl()
                + "); set the key's upstream, or default_upstream"));
    }

    private record Misroute(String prefix, UpstreamConfig upstream) {}

    private void checkUpstream(Map<String, UpstreamConfig> upstreams, String name, String path) {
        if (!upstreams.containsKey(name)) {
            problem(path, "unknown upstream " + quoted(name) + " (expected one of: "
                    + String.join(", ", upstreams.keySet()) + ")");
        }
    }

    private static String expectedOneOf(Set<String> names, List<TaskConfig> inOrder) {
        if (names.isEmpty()) {
            return "";
        }
        return " (expected one of: " + inOrder.stream().map(TaskConfig::name).filter(n -> !n.isEmpty()).distinct()
                .collect(Collectors.joining(", ")) + ")";
    }

    // ---------------------------------------------------------------- typed access

    private void problem(String path, String message) {
        problems.add(new Problem(path.isEmpty() ? "(root)" : path, message));
    }

    /** The field's node, or {@code null} when absent or explicitly null. */
    private static @Nullable JsonNode field(ObjectNode o, String name) {
        JsonNode n = o.get(name);
        return n == null || n.isNull() || n.isMissingNode() ? null : n;
    }

    private boolean required(ObjectNode o, String f, String path) {
        if (field(o, f) == null) {
            problem(path, "is required");
            return false;
        }
        return true;
    }

    /** The node as an object whose fields are all known; {@code null} (and a problem) otherwise. */
    private @Nullable ObjectNode object(@Nullable JsonNode node, String path, List<String> allowed) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            problem(path, "must be an object (got " + describe(node) + ")");
            return null;
        }
        checkFields((ObjectNode) node, path, allowed);
        return (ObjectNode) node;
    }

    private void checkFields(ObjectNode o, String path, List<String> allowed) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!allowed.contains(name)) {
                problem(path.isEmpty() ? name : path + "." + name,
                        "unknown field (expected one of: " + String.join(", ", allowed) + ")");
            }
        }
    }

    private @Nullable String interpolate(String text, String path) {
        Interpolator.Result r = interpolator.apply(text);
        if (r.syntaxError() != null) {
            problem(path, r.syntaxError());
            return null;
        }
        for (String name : r.missing()) {
            problem(path, "${" + name + "} is not set");
        }
        if (r.ok() && r.usedVariable()) {
            fromVariables.put(r.value(), text);
        }
        return r.ok() ? r.value() : null;
    }

    /** A name for a message: as written in the file when it came from a variable. */
    private String quoted(String value) {
        String raw = fromVariables.get(value);
        return "'" + (raw != null ? raw : value) + "'";
    }

    /** Interpolation whose problems were already reported elsewhere. */
    private @Nullable String interpolateQuietly(String text) {
        Interpolator.Result r = interpolator.apply(text);
        return r.ok() ? r.value() : null;
    }

    /**
     * A secret string field. Same as {@link #string}, named apart so the rule is visible: a problem
     * about a secret never shows its value ({@code string} only ever names the kind of a wrong node).
     */
    private @Nullable String secret(ObjectNode o, String f, String path) {
        return string(o, f, path);
    }

    /** A string field, interpolated; numbers and booleans are accepted as their text. */
    private @Nullable String string(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (n.isTextual()) {
            return interpolate(n.textValue(), path);
        }
        if (n.isNumber() || n.isBoolean()) {
            return n.asText();
        }
        problem(path, "must be a string (got " + describe(n) + ")");
        return null;
    }

    private @Nullable String nonEmptyString(ObjectNode o, String f, String path) {
        String s = string(o, f, path);
        if (s != null && s.isBlank()) {
            problem(path, "must not be empty");
            return null;
        }
        return s;
    }

    private @Nullable List<String> stringList(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (!n.isArray()) {
            problem(path, "must be a list (got " + describe(n) + ")");
            return null;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            String p = path + "[" + i + "]";
            if (e.isTextual()) {
                String v = interpolate(e.textValue(), p);
                if (v != null && v.isBlank()) {
                    problem(p, "must not be empty");
                } else if (v != null) {
                    out.add(v);
                }
            } else {
                problem(p, "must be a string (got " + describe(e) + ")");
            }
        }
        return out;
    }

    private @Nullable Long integer(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            return n.longValue();
        }
        if (n.isTextual()) {
            String t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
            try {
                return Long.parseLong(t.strip());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        problem(path, "must be an integer (got " + got(n) + ")");
        return null;
    }

    private @Nullable Integer integerIn(ObjectNode o, String f, String path, int min, int max) {
        Long v = integer(o, f, path);
        if (v == null) {
            return null;
        }
        if (v < min || v > max) {
            if (max == Integer.MAX_VALUE) {
                problem(path, "must be " + (min == 1 ? "> 0" : ">= " + min) + " (got " + got(o.get(f)) + ")");
            } else if (min == Integer.MIN_VALUE) {
                problem(path, "must be <= " + max + " (got " + got(o.get(f)) + ")");
            } else {
                problem(path, "must be between " + min + " and " + max + " (got " + got(o.get(f)) + ")");
            }
            return null;
        }
        return v.intValue();
    }

    private @Nullable Integer port(ObjectNode o, String f, String path) {
        // 0 asks the OS for a free port: what tests and the demo use.
        return integerIn(o, f, path, 0, 65535);
    }

    private @Nullable Integer positiveInt(ObjectNode o, String f, String path) {
        return integerIn(o, f, path, 1, Integer.MAX_VALUE);
    }

    private @Nullable Long positiveLong(ObjectNode o, String f, String path) {
        Long v = integer(o, f, path);
        if (v != null && v <= 0) {
            problem(path, "must be > 0 (got " + got(o.get(f)) + ")");
            return null;
        }
        return v;
    }

    private @Nullable Double number(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        Double v = null;
        if (n.isNumber()) {
            v = n.doubleValue();
        } else if (n.isTextual()) {
            String t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
            try {
                v = Double.parseDouble(t.strip());
            } catch (NumberFormatException e) {
                v = null;
            }
        }
        if (v == null || v.isNaN() || v.isInfinite()) {
            problem(path, "must be a number (got " + got(n) + ")");
            return null;
        }
        return v;
    }

    private @Nullable Double nonNegative(ObjectNode o, String f, String path) {
        Double v = number(o, f, path);
        if (v != null && v < 0) {
            problem(path, "must be >= 0 (got " + got(o.get(f)) + ")");
            return null;
        }
        return v;
    }

    private @Nullable Boolean bool(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isTextual()) {
            String t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
            if (t.strip().equalsIgnoreCase("true")) {
                return true;
            }
            if (t.strip().equalsIgnoreCase("false")) {
                return false;
            }
        }
        problem(path, "must be true or false (got " + got(n) + ")");
        return null;
    }

    private @Nullable Duration duration(ObjectNode o, String f, String path, boolean positive) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        String t = null;
        if (n.isTextual()) {
            t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
        }
        Matcher m = t == null ? null : DURATION.matcher(t.strip());
        if (m == null || !m.matches()) {
            problem(path, DURATION_EXPECTED + " (got " + got(n) + ")");
            return null;
        }
        long amount = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            default -> Duration.ofHours(amount);
        };
        if (positive && d.isZero()) {
            problem(path, "must be > 0 (got " + got(n) + ")");
            return null;
        }
        return d;
    }

    /** The value as written in the file: text before interpolation, so no variable's value shows. */
    private static String got(@Nullable JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        if (n.isTextual()) {
            return '"' + n.textValue() + '"';
        }
        return describe(n);
    }

    private static String describe(JsonNode n) {
        if (n.isObject()) {
            return "an object";
        }
        if (n.isArray()) {
            return "a list";
        }
        if (n.isTextual()) {
            return "a string";
        }
        return n.toString();
    }

    private static String sha256Hex(String value) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static <T> T orElse(@Nullable T value, T fallback) {
        return value != null ? value : fallback;
    }

    private static int intOr(@Nullable Integer value, int fallback) {
        return value != null ? value : fallback;
    }

    private static long longOr(@Nullable Long value, long fallback) {
        return value != null ? value : fallback;
    }

    private static boolean boolOr(@Nullable Boolean value, boolean fallback) {
        return value != null ? value : fallback;
    }
}
