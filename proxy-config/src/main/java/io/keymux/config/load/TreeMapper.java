package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.AdminConfig;
import io.keymux.config.model.AffinityConfig;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.CacheStoreConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
final class TreeMapper extends SectionMapper {

    private static final List<String> ROOT_FIELDS = List.of(
            "server", "health", "admin", "limits", "cache", "affinity", "upstreams", "default_upstream", "default_task", "tasks",
            "api_keys", "clients");
    /** Names the file's JSON Schema for editors; accepted at the root and ignored. */
    static final String SCHEMA_FIELD = "$schema";

    /**
     * The fields each section accepts, by the name of the section's definition in
     * {@code keymux.schema.json} ({@code ""} is the document itself), taken from the section mappers;
     * a test holds the schema to them.
     */
    static Map<String, List<String>> allowedFields() {
        Map<String, List<String>> sections = new LinkedHashMap<>();
        List<String> root = new ArrayList<>(ROOT_FIELDS);
        root.add(0, SCHEMA_FIELD);
        sections.put("", root);
        sections.put("server", ServerMapper.SERVER_FIELDS);
        sections.put("tls", ServerMapper.TLS_FIELDS);
        sections.put("health", HealthMapper.HEALTH_FIELDS);
        sections.put("admin", AdminMapper.ADMIN_FIELDS);
        sections.put("limits", LimitsMapper.LIMITS_FIELDS);
        sections.put("redis", LimitsMapper.REDIS_FIELDS);
        sections.put("cacheStore", CacheStoreMapper.CACHE_STORE_FIELDS);
        sections.put("affinity", AffinityMapper.AFFINITY_FIELDS);
        sections.put("upstream", UpstreamsMapper.UPSTREAM_FIELDS);
        sections.put("upstreamPreset", UpstreamsMapper.UPSTREAM_FIELDS);
        sections.put("task", TasksMapper.TASK_FIELDS);
        sections.put("match", TasksMapper.MATCH_FIELDS);
        sections.put("timeouts", TasksMapper.TIMEOUT_FIELDS);
        sections.put("taskCache", TasksMapper.CACHE_FIELDS);
        sections.put("apiKey", KeysMapper.KEY_FIELDS);
        sections.put("modelLimits", KeysMapper.MODEL_LIMIT_FIELDS);
        sections.put("client", ClientsMapper.CLIENT_FIELDS);
        return sections;
    }

    private final Path baseDir;

    /**
     * @param baseDir directory that relative file paths (TLS certificates) are resolved against: the
     *     config file's directory
     */
    TreeMapper(Interpolator interpolator, Path baseDir) {
        super(new Diagnostics(), interpolator);
        this.baseDir = baseDir;
    }

    List<Problem> problems() {
        return diag.problems();
    }

    List<String> warnings() {
        return diag.warnings();
    }

    /** Maps the document; returns {@code null} when any problem was found (see {@link #problems()}). */
    @Nullable KeymuxConfig map(JsonNode rootNode, String rootName) {
        if (!rootNode.isObject()) {
            problem(rootName, "must be an object with api_keys (got " + describe(rootNode) + ")");
            return null;
        }
        ObjectNode root = (ObjectNode) rootNode;
        checkFields(root, "", ROOT_FIELDS);
        CrossReferences refs = new CrossReferences(diag, interpolator);

        ServerConfig server = new ServerMapper(diag, interpolator, baseDir).server(root);
        HealthConfig health =
                new HealthMapper(diag, interpolator).health(field(root, "health"), "health", HealthConfig.defaults());
        AdminConfig admin = new AdminMapper(diag, interpolator).admin(root);
        LimitsConfig limits = new LimitsMapper(diag, interpolator).limits(root);
        CacheStoreConfig cacheStore = new CacheStoreMapper(diag, interpolator).cacheStore(root);
        AffinityConfig affinity = new AffinityMapper(diag, interpolator).affinity(root);
        Map<String, UpstreamConfig> upstreams = new UpstreamsMapper(diag, interpolator).upstreams(root);
        String defaultUpstream = orElse(string(root, "default_upstream", "default_upstream"), "openai");
        String defaultTask = string(root, "default_task", "default_task");

        List<TaskConfig> tasks = new ArrayList<>();
        List<String> taskPaths = new ArrayList<>();
        new TasksMapper(diag, interpolator).tasks(root, health, tasks, taskPaths);
        int declaredTasks = tasks.size();

        KeysMapper keyMapper = new KeysMapper(diag, interpolator);
        List<KeysMapper.KeyDraft> keys = keyMapper.keys(root);
        List<ClientConfig> clients = new ArrayList<>();
        List<String> clientPaths = new ArrayList<>();
        ClientsMapper clientMapper = new ClientsMapper(diag, interpolator);
        clientMapper.clients(root, clients, clientPaths);

        deriveTasks(keys, tasks, taskPaths, health, field(root, "tasks") != null);
        Map<String, TaskConfig> byName = new HashMap<>();
        for (TaskConfig t : tasks) {
            byName.putIfAbsent(t.name(), t);
        }

        // Cross references, once every name is known.
        refs.checkUpstream(upstreams, defaultUpstream, "default_upstream");
        if (defaultTask != null && !byName.containsKey(defaultTask)) {
            problem("default_task", "unknown task " + quoted(defaultTask)
                    + CrossReferences.expectedOneOf(byName.keySet(), tasks));
        }
        refs.checkTasks(tasks.subList(0, declaredTasks), taskPaths, upstreams, byName);
        List<ApiKeyConfig> apiKeys = refs.resolveUpstreams(keys, upstreams, defaultUpstream, byName);
        refs.checkEveryTaskHasAKey(tasks, taskPaths, apiKeys, keyMapper.incomplete());
        refs.checkAllowedTasks(clientPaths, clientMapper.allowedTaskNodes(), byName);

        if (diag.count() > 0) {
            return null;
        }
        if (clients.isEmpty() && !server.allowUnauthenticated()) {
            diag.warn("no clients are configured and server.allow_unauthenticated is false: protected mode,"
                    + " only loopback callers are served (add a clients entry, or set"
                    + " server.allow_unauthenticated: true)");
        }
        if (admin.token() == null) {
            diag.warn("admin.token is not set: /admin/* answers 403");
        }
        VendorKeyWarnings.warn(diag, apiKeys, upstreams);
        return KeymuxConfig.builder()
                .server(server)
                .health(health)
                .admin(admin)
                .limits(limits)
                .cache(cacheStore)
                .affinity(affinity)
                .upstreams(upstreams)
                .defaultUpstream(defaultUpstream)
                .defaultTask(defaultTask)
                .tasks(tasks)
                .apiKeys(apiKeys)
                .clients(clients)
                .build();
    }

    /**
     * Seed-format compatibility, applied to every config: a task named in some key's task_types but
     * not declared under tasks is created with the defaults, in first-seen order. When a tasks block
     * exists this is probably a typo, so it is also a warning.
     */
    private void deriveTasks(
            List<KeysMapper.KeyDraft> keys, List<TaskConfig> tasks, List<String> paths, HealthConfig health, boolean declared) {
        Set<String> known = tasks.stream().map(TaskConfig::name).collect(Collectors.toCollection(LinkedHashSet::new));
        for (KeysMapper.KeyDraft k : keys) {
            for (int t = 0; t < k.taskTypes().size(); t++) {
                String type = k.taskTypes().get(t);
                if (type.equals(ApiKeyConfig.ANY_TASK) || type.isEmpty() || !known.add(type)) {
                    continue;
                }
                tasks.add(TaskConfig.withDefaults(type, health));
                paths.add(k.path() + ".task_types[" + t + "]");
                if (declared) {
                    diag.warn(k.path() + ".task_types[" + t + "]: task " + quoted(type)
                            + " is not declared under tasks; it gets the default task settings");
                }
            }
        }
    }

}
