package io.keymux.config.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * One loaded, validated configuration (SPEC.md section 2). A reload produces a new instance; the
 * old one is never mutated.
 *
 * @param upstreams every upstream by name, presets ({@code openai}, {@code nvidia},
 *     {@code anthropic}) included, in declaration order
 * @param tasks tasks in declaration order; match rules are tried in this order
 * @param cache the process-wide response store for tasks that cache
 * @param apiKeys upstream keys in declaration order
 */
public record KeymuxConfig(
        ServerConfig server,
        HealthConfig health,
        AdminConfig admin,
        LimitsConfig limits,
        CacheStoreConfig cache,
        Map<String, UpstreamConfig> upstreams,
        String defaultUpstream,
        @Nullable String defaultTask,
        List<TaskConfig> tasks,
        List<ApiKeyConfig> apiKeys,
        List<ClientConfig> clients) {

    public KeymuxConfig {
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(health, "health");
        Objects.requireNonNull(admin, "admin");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(cache, "cache");
        upstreams = Collections.unmodifiableMap(new LinkedHashMap<>(upstreams));
        Objects.requireNonNull(defaultUpstream, "defaultUpstream");
        tasks = List.copyOf(tasks);
        apiKeys = List.copyOf(apiKeys);
        clients = List.copyOf(clients);
    }

    /** A configuration whose response store has the default size. */
    public KeymuxConfig(
            ServerConfig server,
            HealthConfig health,
            AdminConfig admin,
            LimitsConfig limits,
            Map<String, UpstreamConfig> upstreams,
            String defaultUpstream,
            @Nullable String defaultTask,
            List<TaskConfig> tasks,
            List<ApiKeyConfig> apiKeys,
            List<ClientConfig> clients) {
        this(server, health, admin, limits, CacheStoreConfig.defaults(), upstreams, defaultUpstream, defaultTask,
                tasks, apiKeys, clients);
    }

    /** The task with this name, if any. */
    public Optional<TaskConfig> task(String name) {
        for (TaskConfig t : tasks) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The upstream with this name, if any. */
    public Optional<UpstreamConfig> upstream(String name) {
        return Optional.ofNullable(upstreams.get(name));
    }

    /**
     * Protected mode (SPEC.md section 2): no clients configured and unauthenticated access not
     * allowed, so only loopback callers are served.
     */
    public boolean protectedMode() {
        return clients.isEmpty() && !server.allowUnauthenticated();
    }
}
