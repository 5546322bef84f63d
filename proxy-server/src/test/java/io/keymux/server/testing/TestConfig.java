package io.keymux.server.testing;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.MatchRule;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.Timeouts;
import io.keymux.config.model.UpstreamConfig;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Builds {@link KeymuxConfig} records for tests (the YAML loader lives elsewhere). Ports are 0
 * (ephemeral). Without explicit calls: one upstream {@code stub} (bearer), one task {@code chat} (also the default task),
 * one key {@code k1} = {@value #POOL_KEY_1} and one client {@code app} = {@value #CLIENT_KEY}.
 */
public final class TestConfig {
    public static final String CLIENT_KEY = "ck-client-secret-1";
    public static final String POOL_KEY_1 = "sk-pool-key-1";
    public static final String POOL_KEY_2 = "sk-pool-key-2";

    private URI baseUrl;
    private AuthStyle auth = AuthStyle.BEARER;
    private final List<TaskConfig> tasks = new ArrayList<>();
    private final List<ApiKeyConfig> keys = new ArrayList<>();
    private final List<ClientConfig> clients = new ArrayList<>();
    private @Nullable String defaultTask;
    private long maxBodyBytes = ServerConfig.DEFAULT_MAX_BODY_BYTES;
    private boolean allowUnauthenticated;
    private boolean exposeKeyId = true;
    private boolean noDefaults;
    private Timeouts timeouts = Timeouts.defaults();
    private int maxAttempts = TaskConfig.DEFAULT_MAX_ATTEMPTS;
    private Duration drainTimeout = Duration.ofSeconds(30);
    private String bind = "127.0.0.1";
    private int adminPort;

    private TestConfig(URI baseUrl) {
        this.baseUrl = baseUrl;
    }

    public static TestConfig upstream(URI baseUrl) {
        return new TestConfig(baseUrl);
    }

    public TestConfig auth(AuthStyle auth) {
        this.auth = auth;
        return this;
    }

    public TestConfig baseUrl(URI baseUrl) {
        this.baseUrl = baseUrl;
        return this;
    }

    /** A task; the first call replaces the default {@code chat} task. */
    public TestConfig task(String name, @Nullable MatchRule match) {
        tasks.add(task(name, match, timeouts, maxAttempts));
        return this;
    }

    public TestConfig key(String keyId, String secret, String... taskTypes) {
        keys.add(ApiKeyConfig.builder(keyId, Secret.of(secret)).upstream("stub").taskTypes(taskTypes).build());
        return this;
    }

    public TestConfig client(String name, String key, String @Nullable... allowedTasks) {
        clients.add(ClientConfig.builder(name).key(Secret.of(key))
                .allowedTasks(allowedTasks == null || allowedTasks.length == 0 ? null : Set.of(allowedTasks)).build());
        return this;
    }

    public TestConfig clientSha256(String name, String sha256Hex) {
        clients.add(ClientConfig.builder(name).keySha256(sha256Hex).build());
        return this;
    }

    /** No default client: protected mode unless {@link #allowUnauthenticated}. */
    public TestConfig noClients() {
        this.noDefaults = true;
        return this;
    }

    public TestConfig defaultTask(String name) {
        this.defaultTask = name;
        return this;
    }

    public TestConfig maxBodyBytes(long bytes) {
        this.maxBodyBytes = bytes;
        return this;
    }

    public TestConfig allowUnauthenticated() {
        this.allowUnauthenticated = true;
        return this;
    }

    public TestConfig hideKeyId() {
        this.exposeKeyId = false;
        return this;
    }

    /** Timeouts for tasks added after this call (and the default task). */
    public TestConfig timeouts(Timeouts timeouts) {
        this.timeouts = timeouts;
        return this;
    }

    /** Max attempts for tasks added after this call (and the default task). */
    public TestConfig maxAttempts(int maxAttempts) {
        this.maxAttempts = maxAttempts;
        return this;
    }

    /** The listen address of both ports (default loopback only). */
    public TestConfig bind(String bind) {
        this.bind = bind;
        return this;
    }

    /** The admin port (default 0: any free port), for a test that must reach it before start() returns. */
    public TestConfig adminPort(int adminPort) {
        this.adminPort = adminPort;
        return this;
    }

    public TestConfig drainTimeout(Duration drainTimeout) {
        this.drainTimeout = drainTimeout;
        return this;
    }

    private static TaskConfig task(String name, @Nullable MatchRule match, Timeouts timeouts, int maxAttempts) {
        return TaskConfig.builder(name).upstream("stub").match(match).maxAttempts(maxAttempts).timeouts(timeouts)
                .build();
    }

    public KeymuxConfig build() {
        List<TaskConfig> t = tasks.isEmpty() ? List.of(task("chat", null, timeouts, maxAttempts)) : tasks;
        String dflt = tasks.isEmpty() && defaultTask == null ? "chat" : defaultTask;
        List<ApiKeyConfig> k = keys.isEmpty()
                ? List.of(ApiKeyConfig.builder("k1", Secret.of(POOL_KEY_1)).upstream("stub").taskTypes("*").build())
                : keys;
        List<ClientConfig> c = clients.isEmpty() && !noDefaults
                ? List.of(ClientConfig.builder("app").key(Secret.of(CLIENT_KEY)).build())
                : clients;
        ServerConfig server = ServerConfig.builder().port(0).adminPort(adminPort).maxBodyBytes(maxBodyBytes)
                .exposeKeyId(exposeKeyId).allowUnauthenticated(allowUnauthenticated).drainTimeout(drainTimeout)
                .bind(bind).build();
        Map<String, UpstreamConfig> upstreams = new LinkedHashMap<>();
        upstreams.put("stub", new UpstreamConfig("stub", baseUrl, auth));
        return KeymuxConfig.builder().server(server).upstreams(upstreams).defaultUpstream("stub").defaultTask(dflt)
                .tasks(t).apiKeys(k).clients(c).build();
    }
}
