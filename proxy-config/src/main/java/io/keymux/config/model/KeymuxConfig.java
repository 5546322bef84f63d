package io.keymux.config.model;

import java.util.ArrayList;
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
 * @param affinity the map of provider objects to the keys that hold them
 * @param apiKeys upstream keys in declaration order
 */
public record KeymuxConfig(
        ServerConfig server,
        HealthConfig health,
        AdminConfig admin,
        LimitsConfig limits,
        CacheStoreConfig cache,
        AffinityConfig affinity,
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
        Objects.requireNonNull(affinity, "affinity");
        upstreams = Collections.unmodifiableMap(new LinkedHashMap<>(upstreams));
        Objects.requireNonNull(defaultUpstream, "defaultUpstream");
        tasks = List.copyOf(tasks);
        apiKeys = List.copyOf(apiKeys);
        clients = List.copyOf(clients);
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

    /**
     * A builder with the defaults of SPEC.md section 2: default server, health, admin (no token),
     * local limits and the default response store; no upstreams, tasks, keys or clients;
     * {@code default_upstream: openai}, no default task.
     *
     * <pre>{@code
     * KeymuxConfig config = KeymuxConfig.builder()
     *         .upstream(new UpstreamConfig("stub", URI.create("http://127.0.0.1:9999"), AuthStyle.BEARER))
     *         .defaultUpstream("stub")
     *         .task(TaskConfig.builder("chat").build())
     *         .apiKey(ApiKeyConfig.builder("k1", Secret.of("sk-1")).upstream("stub").taskTypes("chat").build())
     *         .build();
     * }</pre>
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration, to change some of it. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.server = server;
        b.health = health;
        b.admin = admin;
        b.limits = limits;
        b.cache = cache;
        b.affinity = affinity;
        b.upstreams = new LinkedHashMap<>(upstreams);
        b.defaultUpstream = defaultUpstream;
        b.defaultTask = defaultTask;
        b.tasks = new ArrayList<>(tasks);
        b.apiKeys = new ArrayList<>(apiKeys);
        b.clients = new ArrayList<>(clients);
        return b;
    }

    /** Builds a {@link KeymuxConfig} by name. List and map setters replace; the singular ones append. */
    public static final class Builder {
        private ServerConfig server = ServerConfig.defaults();
        private HealthConfig health = HealthConfig.defaults();
        private AdminConfig admin = new AdminConfig(null);
        private LimitsConfig limits = LimitsConfig.defaults();
        private CacheStoreConfig cache = CacheStoreConfig.defaults();
        private AffinityConfig affinity = AffinityConfig.defaults();
        private Map<String, UpstreamConfig> upstreams = new LinkedHashMap<>();
        private String defaultUpstream = "openai";
        private @Nullable String defaultTask;
        private List<TaskConfig> tasks = new ArrayList<>();
        private List<ApiKeyConfig> apiKeys = new ArrayList<>();
        private List<ClientConfig> clients = new ArrayList<>();

        private Builder() {}

        public Builder server(ServerConfig server) {
            this.server = server;
            return this;
        }

        public Builder health(HealthConfig health) {
            this.health = health;
            return this;
        }

        public Builder admin(AdminConfig admin) {
            this.admin = admin;
            return this;
        }

        public Builder limits(LimitsConfig limits) {
            this.limits = limits;
            return this;
        }

        public Builder cache(CacheStoreConfig cache) {
            this.cache = cache;
            return this;
        }

        public Builder affinity(AffinityConfig affinity) {
            this.affinity = affinity;
            return this;
        }

        /** Replaces every upstream. */
        public Builder upstreams(Map<String, UpstreamConfig> upstreams) {
            this.upstreams = new LinkedHashMap<>(upstreams);
            return this;
        }

        /** Adds (or replaces) one upstream under its name. */
        public Builder upstream(UpstreamConfig upstream) {
            this.upstreams.put(upstream.name(), upstream);
            return this;
        }

        public Builder defaultUpstream(String defaultUpstream) {
            this.defaultUpstream = defaultUpstream;
            return this;
        }

        public Builder defaultTask(@Nullable String defaultTask) {
            this.defaultTask = defaultTask;
            return this;
        }

        /** Replaces every task. */
        public Builder tasks(List<TaskConfig> tasks) {
            this.tasks = new ArrayList<>(tasks);
            return this;
        }

        public Builder task(TaskConfig task) {
            this.tasks.add(task);
            return this;
        }

        /** Replaces every key. */
        public Builder apiKeys(List<ApiKeyConfig> apiKeys) {
            this.apiKeys = new ArrayList<>(apiKeys);
            return this;
        }

        public Builder apiKey(ApiKeyConfig apiKey) {
            this.apiKeys.add(apiKey);
            return this;
        }

        /** Replaces every client. */
        public Builder clients(List<ClientConfig> clients) {
            this.clients = new ArrayList<>(clients);
            return this;
        }

        public Builder client(ClientConfig client) {
            this.clients.add(client);
            return this;
        }

        public KeymuxConfig build() {
            return new KeymuxConfig(server, health, admin, limits, cache, affinity, upstreams, defaultUpstream, defaultTask,
                    tasks, apiKeys, clients);
        }
    }
}
