package io.keymux.config.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The one way tests make a {@link KeymuxConfig}: on the model's own builders, or from YAML through
 * the real {@link ConfigLoader}. Shared by every module's tests through proxy-config's test-jar.
 *
 * <p>{@link #upstream(URI)} presets what a test of the proxy needs: both ports 0 (ephemeral) on
 * 127.0.0.1, one upstream {@value #UPSTREAM} (bearer) as {@code default_upstream}, one task
 * {@value #TASK} on it (also the default task), one key {@code k1} = {@value #POOL_KEY_1} serving
 * every task ({@code "*"}) and one client {@code app} = {@value #CLIENT_KEY}. The first task, key or
 * client a test adds replaces the preset ones of its kind; the first task also leaves no default
 * task unless {@link #defaultTask} says which. {@link #empty()} presets nothing.
 *
 * <p>The knobs take the model's builders rather than copying their fields: a setting that a builder
 * has is set on that builder.
 *
 * <pre>{@code
 * KeymuxConfig config = TestConfigs.upstream(stub.baseUrl())
 *         .server(s -> s.drainTimeout(Duration.ofSeconds(5)))
 *         .task(TestConfigs.TASK, t -> t.strategy(Strategy.PRIORITY).maxWait(Duration.ofMillis(300)))
 *         .defaultTask(TestConfigs.TASK)
 *         .key("k1", TestConfigs.POOL_KEY_1, TestConfigs.TASK)
 *         .build();
 * KeymuxConfig loaded = TestConfigs.yaml(dir, "tasks: [{ name: t }]\n...", Map.of());
 * }</pre>
 */
public final class TestConfigs {
    /** The preset client's key. */
    public static final String CLIENT_KEY = "ck-client-secret-1";
    /** The preset key {@code k1}'s secret. */
    public static final String POOL_KEY_1 = "sk-pool-key-1";
    /** A second pool key's secret, for tests that add {@code k2}. */
    public static final String POOL_KEY_2 = "sk-pool-key-2";
    /** The preset upstream, on which tasks and keys added by name are. */
    public static final String UPSTREAM = "stub";
    /** The preset task, also the preset default task. */
    public static final String TASK = "chat";

    private ServerConfig server;
    private HealthConfig health = HealthConfig.defaults();
    private final Map<String, UpstreamConfig> upstreams = new LinkedHashMap<>();
    private final @Nullable String defaultUpstream;
    private @Nullable String defaultTask;
    private boolean defaultTaskSet;
    // Built at build(), from the top-level health then, so that a task added by name starts from
    // it whenever health(...) is called: the loader merges a task's health onto the top-level block.
    private final Map<String, Function<HealthConfig, TaskConfig>> tasks = new LinkedHashMap<>();
    private final List<ApiKeyConfig> keys = new ArrayList<>();
    private final List<ClientConfig> clients = new ArrayList<>();
    private boolean presetTasks;
    private boolean presetKeys;
    private boolean presetClients;
    private UnaryOperator<KeymuxConfig.Builder> rest = UnaryOperator.identity();

    private TestConfigs(ServerConfig server, @Nullable String defaultUpstream) {
        this.server = server;
        this.defaultUpstream = defaultUpstream;
    }

    /** The preset of a proxy test (see the class comment), its upstream {@value #UPSTREAM} at {@code baseUrl}. */
    public static TestConfigs upstream(URI baseUrl) {
        Objects.requireNonNull(baseUrl, "baseUrl");
        TestConfigs c = new TestConfigs(ServerConfig.builder().port(0).adminPort(0).bind("127.0.0.1").build(), UPSTREAM);
        c.upstream(UPSTREAM, baseUrl, AuthStyle.BEARER);
        c.task(TASK);
        c.defaultTask = TASK;
        c.key("k1", POOL_KEY_1, ApiKeyConfig.ANY_TASK);
        c.client(ClientConfig.builder("app").key(Secret.of(CLIENT_KEY)));
        c.presetTasks = true;
        c.presetKeys = true;
        c.presetClients = true;
        return c;
    }

    /**
     * Nothing preset: {@link KeymuxConfig#builder()}'s defaults (default server, no upstream,
     * {@code default_upstream: openai}, no task, key or client), for tests of the domain that need
     * only the tasks and keys they add (with {@link #task(TaskConfig.Builder)} and
     * {@link #key(ApiKeyConfig.Builder)}: the by-name forms put them on {@value #UPSTREAM}).
     */
    public static TestConfigs empty() {
        return new TestConfigs(ServerConfig.defaults(), null);
    }

    /** Changes the {@code server} block: {@code server(s -> s.maxBodyBytes(100).allowUnauthenticated(true))}. */
    public TestConfigs server(UnaryOperator<ServerConfig.Builder> settings) {
        server = settings.apply(server.toBuilder()).build();
        return this;
    }

    /**
     * Changes the top-level {@code health} block, which every task added by name starts from (as the
     * loader merges a task's own {@code health} onto it).
     */
    public TestConfigs health(UnaryOperator<HealthConfig.Builder> settings) {
        health = settings.apply(health.toBuilder()).build();
        return this;
    }

    /** Adds an upstream, or replaces the one of that name ({@value #UPSTREAM} included). */
    public TestConfigs upstream(String name, URI baseUrl, AuthStyle auth) {
        upstreams.put(name, new UpstreamConfig(name, baseUrl, auth));
        return this;
    }

    /** A task by name on {@value #UPSTREAM}, every setting at its default. See {@link #task(String, UnaryOperator)}. */
    public TestConfigs task(String name) {
        return task(name, UnaryOperator.identity());
    }

    /**
     * A task by name on {@value #UPSTREAM}, starting from the top-level {@link #health}, then
     * {@code settings}: {@code task("chat", t -> t.maxAttempts(1).timeouts(timeouts))}. A task of that
     * name added before gets {@code settings} on top of its own.
     */
    public TestConfigs task(String name, UnaryOperator<TaskConfig.Builder> settings) {
        dropPresetTasks();
        Function<HealthConfig, TaskConfig> before = tasks.get(name);
        Function<HealthConfig, TaskConfig.Builder> start = before != null
                ? h -> before.apply(h).toBuilder()
                : h -> TaskConfig.builder(name).upstream(UPSTREAM).health(h);
        tasks.put(name, h -> settings.apply(start.apply(h)).build());
        return this;
    }

    /** A task as built (its own upstream and health), replacing one of the same name. */
    public TestConfigs task(TaskConfig.Builder task) {
        dropPresetTasks();
        TaskConfig built = task.build();
        tasks.put(built.name(), h -> built);
        return this;
    }

    /** The task that requests no rule matches go to; {@code null}: none (they are refused). */
    public TestConfigs defaultTask(@Nullable String name) {
        defaultTask = name;
        defaultTaskSet = true;
        return this;
    }

    /** A key on {@value #UPSTREAM} serving {@code taskTypes}, every limit unset. */
    public TestConfigs key(String keyId, String secret, String... taskTypes) {
        return key(ApiKeyConfig.builder(keyId, Secret.of(secret)).upstream(UPSTREAM).taskTypes(taskTypes));
    }

    /** A key as built: {@code key(ApiKeyConfig.builder("k1", Secret.of(s)).upstream("stub").taskTypes("chat").maxRpm(2L))}. */
    public TestConfigs key(ApiKeyConfig.Builder key) {
        if (presetKeys) {
            keys.clear();
            presetKeys = false;
        }
        keys.add(key.build());
        return this;
    }

    /** A client as built: {@code client(ClientConfig.builder("app").key(Secret.of(CLIENT_KEY)).maxRpm(2L))}. */
    public TestConfigs client(ClientConfig.Builder client) {
        dropPresetClients();
        clients.add(client.build());
        return this;
    }

    /** No client at all: protected mode, unless the server allows unauthenticated callers. */
    public TestConfigs noClients() {
        dropPresetClients();
        return this;
    }

    /**
     * The rest of the model (admin, limits, cache, affinity), set on the whole config's builder after
     * everything above: {@code config(c -> c.admin(new AdminConfig(Secret.of(token))))}.
     */
    public TestConfigs config(UnaryOperator<KeymuxConfig.Builder> settings) {
        UnaryOperator<KeymuxConfig.Builder> before = rest;
        rest = b -> settings.apply(before.apply(b));
        return this;
    }

    /** The configuration; may be called again (after more changes, for a reload). */
    public KeymuxConfig build() {
        KeymuxConfig.Builder b = KeymuxConfig.builder().server(server).health(health).upstreams(upstreams)
                .defaultTask(defaultTask).apiKeys(keys).clients(clients);
        if (defaultUpstream != null) {
            b.defaultUpstream(defaultUpstream);
        }
        tasks.values().forEach(task -> b.task(task.apply(health)));
        return rest.apply(b).build();
    }

    /**
     * Writes {@code text} to {@code dir/keymux.yaml} and loads it with the real {@link ConfigLoader}
     * as {@code keymux serve} would, {@code env} standing in for the environment and {@code dir} for
     * the working directory (its {@code .env}): the result, problems and all.
     */
    public static LoadResult loadResult(Path dir, String text, Map<String, String> env) {
        try {
            Path file = dir.resolve("keymux.yaml");
            Files.writeString(file, text, StandardCharsets.UTF_8);
            return ConfigLoader.load(file, List.of(), env, dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** As {@link #loadResult}, the configuration {@code text} describes; fails the test on any problem. */
    public static KeymuxConfig yaml(Path dir, String text, Map<String, String> env) {
        LoadResult result = loadResult(dir, text, env);
        assertThat(result.problems()).as("config problems").isEmpty();
        return result.configOrThrow();
    }

    private void dropPresetTasks() {
        if (presetTasks) {
            tasks.clear();
            presetTasks = false;
            if (!defaultTaskSet) {
                defaultTask = null;
            }
        }
    }

    private void dropPresetClients() {
        if (presetClients) {
            clients.clear();
            presetClients = false;
        }
    }
}
