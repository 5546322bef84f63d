package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.CacheConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.MatchRule;
import io.keymux.config.model.RetryPolicy;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.Timeouts;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/** The {@code tasks} list: match rules, retry policy, timeouts, cache and health overrides. */
final class TasksMapper extends SectionMapper {
    static final List<String> TASK_FIELDS = List.of(
            "name", "priority", "strategy", "upstream", "match", "fallback", "max_wait", "max_attempts", "retry_on",
            "timeouts", "cache", "prompt_affinity", "health");
    static final List<String> MATCH_FIELDS = List.of("path", "model", "header", "headers");
    static final List<String> TIMEOUT_FIELDS = List.of("connect", "first_byte", "idle");
    static final List<String> CACHE_FIELDS = List.of("enabled", "ttl", "scope", "stream");

    private final HealthMapper healthMapper;

    TasksMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
        this.healthMapper = new HealthMapper(diag, interpolator);
    }

    void tasks(ObjectNode root, HealthConfig health, List<TaskConfig> tasks, List<String> paths) {
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
            TaskConfig.Builder task = TaskConfig.builder(name == null ? "" : name)
                    .priority(intOr(integerIn(o, "priority", path + ".priority", Integer.MIN_VALUE, Integer.MAX_VALUE), 0))
                    .strategy(strategy)
                    .upstream(string(o, "upstream", path + ".upstream"))
                    .match(match(field(o, "match"), path + ".match"))
                    .fallback(fallback == null ? List.of() : fallback);
            Duration maxWait = duration(o, "max_wait", path + ".max_wait", false);
            if (maxWait != null) {
                task.maxWait(maxWait);
            }
            if (maxAttempts != null) {
                task.maxAttempts(maxAttempts);
            }
            task.retryOn(retryOn(field(o, "retry_on"), path + ".retry_on"))
                    .timeouts(timeouts(field(o, "timeouts"), path + ".timeouts"))
                    .cache(cache(field(o, "cache"), path + ".cache"))
                    .promptAffinity(onOff(o, "prompt_affinity", path + ".prompt_affinity"))
                    .health(healthMapper.health(field(o, "health"), path + ".health", health));
            tasks.add(task.build());
            paths.add(path);
        }
    }

    /**
     * {@code on}/{@code off} (YAML 1.1 may have read them as booleans already; {@code true} and
     * {@code false} are accepted too); absent is off.
     */
    private boolean onOff(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return false;
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        String t = n.isTextual() ? interpolate(n.textValue(), path) : null;
        if (t != null) {
            switch (t.strip().toLowerCase(java.util.Locale.ROOT)) {
                case "on", "true" -> {
                    return true;
                }
                case "off", "false" -> {
                    return false;
                }
                default -> { }
            }
        }
        problem(path, "must be on or off (got " + got(n) + ")");
        return false;
    }

    @Nullable MatchRule match(@Nullable JsonNode node, String path) {
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

    RetryPolicy retryOn(@Nullable JsonNode node, String path) {
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

    Timeouts timeouts(@Nullable JsonNode node, String path) {
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

    CacheConfig cache(@Nullable JsonNode node, String path) {
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
        return d.toBuilder()
                .enabled(boolOr(bool(o, "enabled", path + ".enabled"), d.enabled()))
                .ttl(orElse(duration(o, "ttl", path + ".ttl", true), d.ttl()))
                .scope(scope)
                .stream(boolOr(bool(o, "stream", path + ".stream"), d.stream()))
                .build();
    }
}
