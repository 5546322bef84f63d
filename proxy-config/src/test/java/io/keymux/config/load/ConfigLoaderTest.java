package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.CacheConfig;
import io.keymux.config.model.CacheStoreConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.ModelLimits;
import io.keymux.config.model.RetryPolicy;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.Strategy;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.Timeouts;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    @TempDir
    Path dir;

    private ConfigFixture fx;

    @BeforeEach
    void setUp() {
        fx = new ConfigFixture(dir);
    }

    // ------------------------------------------------------------ interpolation

    @Test
    void environmentWinsOverEnvFilesWhichWinOverDotEnv() {
        fx.write(".env", "A=dotenv\nB=dotenv\nC=dotenv\nD=dotenv\n");
        Path one = fx.write("one.env", "A=one\nB=one\nC=one\n");
        Path two = fx.write("two.env", "A=two\nB=two\n");
        Path config = fx.write("keymux.yaml", """
                api_keys:
                  - { key_id: "${A}", api_key: k1, task_types: [chat] }
                  - { key_id: "${B}", api_key: k2, task_types: [chat] }
                  - { key_id: "${C}", api_key: k3, task_types: [chat] }
                  - { key_id: "${D}", api_key: k4, task_types: [chat] }
                """);
        LoadResult result = fx.load(config, List.of(one, two), Map.of("A", "env"));
        assertThat(result.problems()).isEmpty();
        assertThat(result.configOrThrow().apiKeys()).extracting(ApiKeyConfig::keyId)
                .containsExactly("env", "two", "one", "dotenv");
    }

    @Test
    void defaultsApplyWhenUnsetAndInterpolationHappensBeforeTyping() {
        String yaml = """
                api_keys:
                  - key_id: k
                    api_key: ${KEY:-sk-placeholder}
                    task_types: [chat]
                    max_rpm: ${RPM:-100}
                    cost_per_token: "${COST:-0.5}"
                tasks:
                  - name: chat
                    max_wait: ${WAIT:-2s}
                    cache: { enabled: "${CACHE:-true}" }
                """;
        KeymuxConfig defaults = fx.yaml(yaml).configOrThrow();
        assertThat(defaults.apiKeys().get(0).maxRpm()).isEqualTo(100L);
        assertThat(defaults.apiKeys().get(0).apiKey().reveal()).isEqualTo("sk-placeholder");
        assertThat(defaults.apiKeys().get(0).costPerToken()).isEqualTo(0.5);
        assertThat(defaults.tasks().get(0).maxWait()).isEqualTo(Duration.ofSeconds(2));
        assertThat(defaults.tasks().get(0).cache().enabled()).isTrue();

        KeymuxConfig set = fx.yaml(yaml, Map.of("RPM", "250", "KEY", "sk-real", "WAIT", "500ms")).configOrThrow();
        assertThat(set.apiKeys().get(0).maxRpm()).isEqualTo(250L);
        assertThat(set.apiKeys().get(0).apiKey().reveal()).isEqualTo("sk-real");
        assertThat(set.tasks().get(0).maxWait()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void missingVariableIsAProblemNamingTheVariableAndThePath() {
        assertThat(fx.problems("""
                api_keys:
                  - { key_id: k, api_key: "${NVIDIA_KEY}", task_types: [chat] }
                """)).containsExactly("api_keys[0].api_key: ${NVIDIA_KEY} is not set");
    }

    @Test
    void interpolatesInsideListsAndNestedObjects() {
        String yaml = """
                upstreams:
                  mine: { base_url: "https://${HOST:-llm.example.com}/v1", auth: "header:${HDR:-api-key}" }
                tasks:
                  - name: chat
                    upstream: mine
                    retry_on: ["${STATUS:-429}", timeout]
                    match: { header: { X-App: "${APP:-web}" } }
                api_keys:
                  - { key_id: k, api_key: s, task_types: ["${T1}", "${T2:-batch}"] }
                """;
        KeymuxConfig config = fx.yaml(yaml, Map.of("T1", "chat")).configOrThrow();
        assertThat(config.apiKeys().get(0).taskTypes()).containsExactly("chat", "batch");
        assertThat(config.upstreams().get("mine").baseUrl()).isEqualTo(URI.create("https://llm.example.com/v1"));
        assertThat(config.upstreams().get("mine").auth()).isEqualTo(AuthStyle.header("api-key"));
        assertThat(config.tasks().get(0).retryOn()).isEqualTo(new RetryPolicy(Set.of(429), false, true));
        assertThat(config.tasks().get(0).match().headers()).isEqualTo(Map.of("X-App", "web"));

        assertThat(fx.yaml(yaml).problems()).extracting(ConfigFixture::pathAndMessage)
                .containsExactly("api_keys[0].task_types[0]: ${T1} is not set");
    }

    @Test
    void problemsSayWhereInTheFileTheyAre() {
        Path yaml = fx.write("lines.yaml", """
                server:
                  port: 99999
                tasks:
                  - name: chat
                    fallback: [bakup]
                api_keys:
                  - key_id: k
                    api_key: s
                    task_types: [chat]
                    max_rpm: -5
                """);
        assertThat(fx.load(yaml, List.of(), Map.of()).problems()).extracting(Problem::toString).containsExactly(
                "server.port: must be between 0 and 65535 (got 99999) [at " + yaml + ":2]",
                "api_keys[0].max_rpm: must be > 0 (got -5) [at " + yaml + ":10]",
                "tasks[0].fallback[0]: unknown task 'bakup' [at " + yaml + ":5]");
        // A missing field is placed at the object that lacks it; JSON files get lines too.
        Path json = fx.write("lines.json", "{\n  \"api_keys\": [\n    { \"key_id\": \"k\",\n      \"task_types\": [\"chat\"] }\n  ]\n}\n");
        assertThat(fx.load(json, List.of(), Map.of()).problems()).extracting(Problem::toString)
                .containsExactly("api_keys[0].api_key: is required [at " + json + ":3]");
    }

    @Test
    void aKeyStillTheExamplesPlaceholderIsAWarningNamingTheVariable() {
        String yaml = """
                api_keys:
                  - { key_id: a, api_key: "${OPENAI_KEY_1:-sk-fake-placeholder-1}", task_types: [chat] }
                  - { key_id: b, api_key: your-api-key-here, task_types: [chat] }
                  - { key_id: c, api_key: sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7, task_types: [chat] }
                """;
        LoadResult unset = fx.yaml(yaml);
        assertThat(unset.ok()).isTrue();
        assertThat(unset.warnings()).filteredOn(w -> w.contains("placeholder")).containsExactly(
                "api_keys[0].api_key: looks like a placeholder, not a key the provider issued (the default of"
                        + " ${OPENAI_KEY_1} is used because OPENAI_KEY_1 is not set; set it to the real key);"
                        + " every request with it would fail with the provider's 401",
                "api_keys[1].api_key: looks like a placeholder, not a key the provider issued (replace it with"
                        + " the real key (or ${VAR} read from the environment)); every request with it would fail"
                        + " with the provider's 401");
        assertThat(unset.warnings().toString()).doesNotContain("your-api-key-here").doesNotContain("sk-fake");
        LoadResult set = fx.yaml(yaml, Map.of("OPENAI_KEY_1", "sk-proj-Zx9cV8bN7mQ6wE5rT4yU3iO2p"));
        assertThat(set.warnings()).filteredOn(w -> w.contains("placeholder")).singleElement().asString()
                .startsWith("api_keys[1].api_key:");
    }

    @Test
    void missingEnvFileIsAProblem() {
        Path config = fx.write("keymux.yaml", "api_keys: [{ key_id: k, api_key: s, task_types: [chat] }]\n");
        Path missing = dir.resolve("nope.env");
        assertThat(fx.load(config, List.of(missing), Map.of()).problems()).extracting(ConfigFixture::pathAndMessage)
                .containsExactly(missing + ": env file not found");
    }

    @Test
    void fileLevelProblems() {
        Path missing = dir.resolve("missing.yaml");
        assertThat(fx.load(missing, List.of(), Map.of()).problems()).extracting(ConfigFixture::pathAndMessage)
                .containsExactly(missing + ": config file not found");
        Path toml = fx.write("keymux.toml", "x = 1\n");
        assertThat(fx.load(toml, List.of(), Map.of()).problems()).extracting(ConfigFixture::pathAndMessage)
                .containsExactly(toml + ": unsupported file type (expected: .yaml, .yml or .json)");
        Path empty = fx.write("empty.yaml", "");
        assertThat(fx.load(empty, List.of(), Map.of()).problems()).extracting(ConfigFixture::pathAndMessage)
                .containsExactly(empty + ": is empty (expected: at least an api_keys list)");
        Path broken = fx.write("broken.json", "{\"api_keys\": [ \n");
        assertThat(fx.load(broken, List.of(), Map.of()).problems()).singleElement().asString()
                .startsWith(broken + ":2:").contains("cannot parse");
        Path star = fx.write("star.yaml", "api_keys:\n  - { key_id: k, api_key: sk-literal, task_types: [*] }\n");
        assertThat(fx.load(star, List.of(), Map.of()).problems()).extracting(ConfigFixture::pathAndMessage).containsExactly(
                star + ":2:3: cannot parse: while scanning an alias; unexpected character found ](93)"
                        + " (quote a literal *: task_types: [\"*\"])");
        Path dup = fx.write("dup.yaml", "api_keys: []\napi_keys: []\n");
        assertThat(fx.load(dup, List.of(), Map.of()).problems()).singleElement().asString()
                .contains("cannot parse: Duplicate field 'api_keys'");
    }

    // ------------------------------------------------------------ defaults and derivation

    @Test
    void minimalConfigGetsTheSpecDefaults() {
        KeymuxConfig config = fx.yaml("""
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat], max_rpm: 60 }
                """).configOrThrow();
        assertThat(config.server()).isEqualTo(ServerConfig.defaults());
        assertThat(config.health()).isEqualTo(HealthConfig.defaults());
        assertThat(config.limits()).isEqualTo(LimitsConfig.defaults());
        assertThat(config.admin().token()).isNull();
        assertThat(config.defaultUpstream()).isEqualTo("openai");
        assertThat(config.defaultTask()).isNull();
        assertThat(config.upstreams().keySet()).containsExactly("openai", "nvidia", "anthropic");
        assertThat(config.upstreams().get("nvidia").baseUrl()).isEqualTo(URI.create("https://integrate.api.nvidia.com"));
        assertThat(config.upstreams().get("anthropic").auth()).isEqualTo(AuthStyle.header("x-api-key"));
        assertThat(config.tasks()).containsExactly(TaskConfig.withDefaults("chat", HealthConfig.defaults()));
        ApiKeyConfig key = config.apiKeys().get(0);
        assertThat(key.upstream()).isEqualTo("openai");
        assertThat(key.rpmBurst()).isEqualTo(60L);
        assertThat(key.tpmBurst()).isNull();
        assertThat(key.weight()).isEqualTo(1);
        assertThat(key.priority()).isZero();
    }

    @Test
    void newerSectionsLoadAsWritten() {
        KeymuxConfig config = fx.yaml("""
                health: { quota_probe: 15m, disabled_probe: 1h, overload_backoff: 10s }
                limits:
                  backend: redis
                  redis: { uri: "redis://r:6379", timeout: 250ms, failure_threshold: 5, local_share: 0.5 }
                cache: { max_bytes: 1048576 }
                tasks:
                  - { name: chat, cache: { enabled: true, ttl: 1m, scope: global, stream: false } }
                  - { name: other, health: { disabled_probe: "off" } }
                api_keys:
                  - key_id: k
                    api_key: s
                    task_types: [chat, other]
                    daily_budget_usd: 10
                    budget_warn_at: 0.8
                    models:
                      "gpt-4o": { max_rpm: 500, max_tpm: 30000 }
                      "gpt-4o-mini*": { max_tpm: 200000 }
                """).configOrThrow();
        assertThat(config.health()).isEqualTo(HealthConfig.builder().failureThreshold(3)
                .circuitCooldown(Duration.ofSeconds(30)).rateLimitCooldown(Duration.ofSeconds(60))
                .quotaProbe(Duration.ofMinutes(15)).disabledProbe(Duration.ofHours(1))
                .overloadBackoff(Duration.ofSeconds(10)).build());
        assertThat(config.tasks().get(1).health().disabledProbe()).isNull();
        assertThat(config.tasks().get(1).health().quotaProbe()).isEqualTo(Duration.ofMinutes(15));
        assertThat(config.limits().redis()).isEqualTo(
                LimitsConfig.RedisConfig.builder().uri("redis://r:6379").timeout(Duration.ofMillis(250))
                        .failureThreshold(5).localShare(0.5).build());
        assertThat(config.cache()).isEqualTo(new CacheStoreConfig(1_048_576));
        assertThat(config.tasks().get(0).cache()).isEqualTo(
                CacheConfig.builder().enabled(true).ttl(Duration.ofMinutes(1)).scope(CacheConfig.Scope.GLOBAL)
                        .stream(false).build());
        ApiKeyConfig key = config.apiKeys().get(0);
        assertThat(key.budgetWarnAt()).isEqualTo(0.8);
        assertThat(key.models()).containsExactly(
                new ModelLimits("gpt-4o", 500L, 30000L), new ModelLimits("gpt-4o-mini*", null, 200000L));
    }

    @Test
    void newerSectionsDefaultAsSpecSays() {
        KeymuxConfig config = fx.yaml("""
                limits: { redis: { local_share: auto } }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat] }
                """).configOrThrow();
        assertThat(config.health().quotaProbe()).isEqualTo(Duration.ofMinutes(10));
        assertThat(config.health().disabledProbe()).isEqualTo(Duration.ofMinutes(10));
        assertThat(config.health().overloadBackoff()).isEqualTo(Duration.ofSeconds(5));
        LimitsConfig.RedisConfig redis = config.limits().redis();
        assertThat(redis.timeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(redis.failureThreshold()).isEqualTo(3);
        assertThat(redis.autoLocalShare()).isTrue();
        assertThat(redis.effectiveLocalShare(4)).isEqualTo(0.25);
        assertThat(redis.effectiveLocalShare(0)).isEqualTo(1.0);
        assertThat(config.cache().maxBytes()).isEqualTo(268_435_456L);
        assertThat(config.tasks().get(0).cache().scope()).isEqualTo(CacheConfig.Scope.CLIENT);
        assertThat(config.tasks().get(0).cache().stream()).isTrue();
        assertThat(config.apiKeys().get(0).models()).isEmpty();
        assertThat(config.apiKeys().get(0).budgetWarnAt()).isNull();
    }

    @Test
    void taskHealthOverridesAreMergedOverTheTopLevelBlock() {
        KeymuxConfig config = fx.yaml("""
                health: { failure_threshold: 4, rate_limit_cooldown: 2m }
                tasks:
                  - { name: a, health: { circuit_cooldown: 10s } }
                  - { name: b }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [a, b, c] }
                """).configOrThrow();
        assertThat(config.tasks()).extracting(TaskConfig::health).containsExactly(
                health(4, Duration.ofSeconds(10), Duration.ofMinutes(2)),
                health(4, Duration.ofSeconds(30), Duration.ofMinutes(2)),
                health(4, Duration.ofSeconds(30), Duration.ofMinutes(2)));
    }

    private static HealthConfig health(int failureThreshold, Duration circuitCooldown, Duration rateLimitCooldown) {
        return HealthConfig.builder().failureThreshold(failureThreshold).circuitCooldown(circuitCooldown)
                .rateLimitCooldown(rateLimitCooldown).build();
    }

    @Test
    void keyUpstreamIsItsOwnElseItsFirstTasksElseTheDefault() {
        KeymuxConfig config = fx.yaml("""
                default_upstream: nvidia
                tasks:
                  - { name: claude, upstream: anthropic }
                  - { name: plain }
                api_keys:
                  - { key_id: own, api_key: s1, upstream: openai, task_types: [claude] }
                  - { key_id: from_task, api_key: s2, task_types: ["*", claude, plain] }
                  - { key_id: from_default, api_key: s3, task_types: [plain, claude] }
                """).configOrThrow();
        assertThat(config.apiKeys()).extracting(ApiKeyConfig::upstream)
                .containsExactly("openai", "anthropic", "nvidia");
    }

    @Test
    void upstreamEntriesOverridePresetsAndAddNewOnes() {
        KeymuxConfig config = fx.yaml("""
                upstreams:
                  openai: { base_url: "http://localhost:8081/" }
                  azure: { base_url: "https://my.openai.azure.com/openai/deployments/gpt4o/", auth: "header:api-key" }
                  vision: { base_url: "https://vision.example.com", auth: "query:key" }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat] }
                """).configOrThrow();
        assertThat(config.upstreams().keySet()).containsExactly("openai", "nvidia", "anthropic", "azure", "vision");
        assertThat(config.upstreams().get("openai").baseUrl()).isEqualTo(URI.create("http://localhost:8081"));
        assertThat(config.upstreams().get("openai").auth()).isEqualTo(AuthStyle.BEARER);
        assertThat(config.upstreams().get("azure").baseUrl())
                .isEqualTo(URI.create("https://my.openai.azure.com/openai/deployments/gpt4o"));
        assertThat(config.upstreams().get("azure").auth()).isEqualTo(AuthStyle.header("api-key"));
        assertThat(config.upstreams().get("vision").auth()).isEqualTo(AuthStyle.query("key"));
    }

    @Test
    void seedFormatJsonIsAValidConfig() {
        Path seed = fx.write("api_keys_config.json", """
                {
                  "api_keys": [
                    { "key_id": "medical_text_primary", "api_key": "${MED}", "max_rpm": 1000, "max_tpm": 50000,
                      "priority": 3, "task_types": ["medical_text_analysis", "diagnostic_report_generation"],
                      "cost_per_token": 0.0001 },
                    { "key_id": "batch", "api_key": "${BATCH}", "max_rpm": 100, "max_tpm": 500000,
                      "priority": 1, "task_types": ["batch_processing", "medical_text_analysis"],
                      "cost_per_token": 0.00005 },
                    { "key_id": "backup", "api_key": "${BACKUP}", "max_rpm": 500, "max_tpm": 25000,
                      "priority": 0, "task_types": ["*"], "cost_per_token": 0.0002 }
                  ]
                }
                """);
        LoadResult result = fx.load(seed, List.of(), Map.of("MED", "nvapi-1", "BATCH", "nvapi-2", "BACKUP", "nvapi-3"));
        KeymuxConfig config = result.configOrThrow();
        assertThat(config.tasks()).extracting(TaskConfig::name)
                .containsExactly("medical_text_analysis", "diagnostic_report_generation", "batch_processing");
        assertThat(config.tasks()).allSatisfy(t -> assertThat(t)
                .isEqualTo(TaskConfig.withDefaults(t.name(), HealthConfig.defaults())));
        ApiKeyConfig first = config.apiKeys().get(0);
        assertThat(first).isEqualTo(ApiKeyConfig.builder("medical_text_primary", Secret.of("nvapi-1")).upstream("openai")
                .taskTypes("medical_text_analysis", "diagnostic_report_generation").maxRpm(1000L).maxTpm(50000L)
                .rpmBurst(1000L).tpmBurst(50000L).priority(3).weight(1).costPerToken(0.0001).build());
        assertThat(config.apiKeys().get(2).servesAnyTask()).isTrue();
        // A seed file has no clients, no admin token and no upstreams: warnings, not problems.
        assertThat(result.warnings()).hasSize(3).last().asString()
                .startsWith("api_keys medical_text_primary, batch, backup: the key looks issued for"
                        + " integrate.api.nvidia.com (nvapi-...) but goes to upstream 'openai'");
    }

    @Test
    void undeclaredTaskTypesAreDerivedWithAWarningWhenTasksAreDeclared() {
        LoadResult result = fx.yaml("""
                tasks:
                  - { name: chat, priority: 5 }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat, chta] }
                clients:
                  - { name: app, key: client-secret }
                admin: { token: admin-secret }
                """);
        assertThat(result.configOrThrow().tasks()).extracting(TaskConfig::name).containsExactly("chat", "chta");
        assertThat(result.warnings()).containsExactly(
                "api_keys[0].task_types[1]: task 'chta' is not declared under tasks; it gets the default task settings");
    }

    @Test
    void warnsAboutProtectedModeAndMissingAdminToken() {
        LoadResult result = fx.yaml("api_keys: [{ key_id: k, api_key: s, task_types: [chat] }]\n");
        assertThat(result.warnings()).containsExactly(
                "no clients are configured and server.allow_unauthenticated is false: protected mode, only loopback"
                        + " callers are served (add a clients entry, or set server.allow_unauthenticated: true)",
                "admin.token is not set: /admin/* answers 403");
        LoadResult open = fx.yaml("""
                server: { allow_unauthenticated: true }
                admin: { token: "${TOKEN:-}" }
                api_keys: [{ key_id: k, api_key: s, task_types: [chat] }]
                """);
        assertThat(open.warnings()).containsExactly("admin.token is not set: /admin/* answers 403");
        assertThat(open.configOrThrow().protectedMode()).isFalse();
    }

    @Test
    void enablingTheResponseCacheLoadsWithoutAWarning() {
        LoadResult result = fx.yaml("""
                server: { allow_unauthenticated: true }
                admin: { token: t }
                tasks:
                  - { name: chat }
                  - { name: batch, cache: { enabled: true, ttl: 5m } }
                api_keys: [{ key_id: k, api_key: s, task_types: [chat, batch] }]
                """);
        assertThat(result.warnings()).isEmpty();
        assertThat(result.configOrThrow().task("batch").orElseThrow().cache().enabled()).isTrue();
    }

    @Test
    void warnsWhenAVendorKeyGoesToAnotherVendorWithoutShowingTheKey() {
        LoadResult result = fx.yaml("""
                server: { allow_unauthenticated: true }
                admin: { token: t }
                upstreams:
                  mock: { base_url: "http://127.0.0.1:9999" }
                api_keys:
                  - { key_id: med, api_key: nvapi-secret-1, task_types: [a] }
                  - { key_id: gen, api_key: nvapi-secret-2, task_types: [b] }
                  - { key_id: ok, api_key: nvapi-secret-3, upstream: nvidia, task_types: [c] }
                  - { key_id: local, api_key: nvapi-secret-4, upstream: mock, task_types: [d] }
                  - { key_id: claude, api_key: sk-ant-secret-5, upstream: nvidia, task_types: [e] }
                """);
        assertThat(result.warnings()).containsExactly(
                "api_keys med, gen: the key looks issued for integrate.api.nvidia.com (nvapi-...) but goes to"
                        + " upstream 'openai' (https://api.openai.com); set the key's upstream, or default_upstream",
                "api_keys claude: the key looks issued for api.anthropic.com (sk-ant-...) but goes to upstream"
                        + " 'nvidia' (https://integrate.api.nvidia.com); set the key's upstream, or default_upstream");
        assertThat(result.warnings().toString()).doesNotContain("secret");
    }

    // ------------------------------------------------------------ YAML and JSON

    @Test
    void yamlAndEquivalentJsonGiveEqualModels() {
        Path cert = fx.write("tls/cert.pem", "cert");
        fx.write("tls/key.pem", "key");
        Path yaml = fx.write("full.yaml", """
                server:
                  port: 8443
                  admin_port: 0
                  max_body_bytes: 1048576
                  task_header: X-Task
                  expose_key_id: false
                  allow_unauthenticated: false
                  drain_timeout: 5s
                  bind: 127.0.0.1
                  max_header_bytes: 8192
                  max_uri_bytes: 4096
                  request_header_timeout: 10s
                  idle_timeout: 2m
                  max_connections: 100
                  tls: { cert_file: tls/cert.pem, key_file: tls/key.pem }
                health: { failure_threshold: 2, circuit_cooldown: 15s, rate_limit_cooldown: 1h }
                admin: { token: "${ADMIN:-admin-secret}" }
                limits: { backend: redis, redis: { uri: "redis://cache:6379", local_share: 0.5 } }
                upstreams:
                  vision: { base_url: https://vision.example.com, auth: "query:key" }
                default_upstream: nvidia
                default_task: chat
                tasks:
                  - name: chat
                    priority: 5
                    strategy: least_loaded
                    upstream: openai
                    match: { path: /v1/chat/*, model: "gpt-4*", header: { X-App: dentamind } }
                    fallback: [xray]
                    max_wait: 500ms
                    max_attempts: 2
                    retry_on: [429, 503, connect_error]
                    timeouts: { connect: 1s, first_byte: 30s, idle: 10s }
                    cache: { enabled: true, ttl: 5m }
                    health: { failure_threshold: 5 }
                  - { name: xray, upstream: vision, strategy: weighted }
                api_keys:
                  - key_id: chat_1
                    api_key: sk-chat
                    task_types: [chat]
                    max_rpm: 1000
                    max_tpm: 50000
                    rpm_burst: 100
                    tpm_burst: 5000
                    max_concurrent: 50
                    priority: 3
                    weight: 2
                    cost_per_input_token: 0.00001
                    cost_per_output_token: 0.00003
                    cost_per_cached_input_token: 0.000005
                    daily_budget_usd: 25
                  - { key_id: xray_1, api_key: vk, task_types: [xray], cost_per_token: 0.0001 }
                clients:
                  - { name: web, key: "client-secret", allowed_tasks: [chat], max_rpm: 600, daily_budget_usd: 100 }
                  - { name: batch, key_sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08 }
                """);
        Path json = fx.write("full.json", """
                {
                  "server": {
                    "port": 8443, "admin_port": 0, "max_body_bytes": 1048576, "task_header": "X-Task",
                    "expose_key_id": false, "allow_unauthenticated": false, "drain_timeout": "5s",
                    "bind": "127.0.0.1", "max_header_bytes": 8192, "max_uri_bytes": 4096,
                    "request_header_timeout": "10s", "idle_timeout": "2m", "max_connections": 100,
                    "tls": { "cert_file": "tls/cert.pem", "key_file": "tls/key.pem" }
                  },
                  "health": { "failure_threshold": 2, "circuit_cooldown": "15s", "rate_limit_cooldown": "1h" },
                  "admin": { "token": "${ADMIN:-admin-secret}" },
                  "limits": { "backend": "redis", "redis": { "uri": "redis://cache:6379", "local_share": 0.5 } },
                  "upstreams": { "vision": { "base_url": "https://vision.example.com", "auth": "query:key" } },
                  "default_upstream": "nvidia",
                  "default_task": "chat",
                  "tasks": [
                    {
                      "name": "chat", "priority": 5, "strategy": "least_loaded", "upstream": "openai",
                      "match": { "path": "/v1/chat/*", "model": "gpt-4*", "header": { "X-App": "dentamind" } },
                      "fallback": ["xray"], "max_wait": "500ms", "max_attempts": 2,
                      "retry_on": [429, 503, "connect_error"],
                      "timeouts": { "connect": "1s", "first_byte": "30s", "idle": "10s" },
                      "cache": { "enabled": true, "ttl": "5m" },
                      "health": { "failure_threshold": 5 }
                    },
                    { "name": "xray", "upstream": "vision", "strategy": "weighted" }
                  ],
                  "api_keys": [
                    {
                      "key_id": "chat_1", "api_key": "sk-chat", "task_types": ["chat"], "max_rpm": 1000,
                      "max_tpm": 50000, "rpm_burst": 100, "tpm_burst": 5000, "max_concurrent": 50, "priority": 3,
                      "weight": 2, "cost_per_input_token": 0.00001, "cost_per_output_token": 0.00003,
                      "cost_per_cached_input_token": 0.000005, "daily_budget_usd": 25
                    },
                    { "key_id": "xray_1", "api_key": "vk", "task_types": ["xray"], "cost_per_token": 0.0001 }
                  ],
                  "clients": [
                    { "name": "web", "key": "client-secret", "allowed_tasks": ["chat"], "max_rpm": 600,
                      "daily_budget_usd": 100 },
                    { "name": "batch",
                      "key_sha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08" }
                  ]
                }
                """);
        LoadResult fromYaml = fx.load(yaml, List.of(), Map.of());
        LoadResult fromJson = fx.load(json, List.of(), Map.of());
        assertThat(fromYaml.problems()).isEmpty();
        assertThat(fromJson.problems()).isEmpty();
        KeymuxConfig config = fromYaml.configOrThrow();
        assertThat(fromJson.configOrThrow()).isEqualTo(config);

        // And the values arrived where they belong.
        assertThat(config.server().tls().certFile()).isEqualTo(cert);
        assertThat(config.server().adminPort()).isZero();
        assertThat(config.server().idleTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(config.admin().token()).isEqualTo(Secret.of("admin-secret"));
        assertThat(config.limits()).isEqualTo(
                new LimitsConfig(LimitsConfig.Backend.REDIS, LimitsConfig.RedisConfig.builder().uri("redis://cache:6379").localShare(0.5).build()));
        TaskConfig chat = config.tasks().get(0);
        assertThat(chat.strategy()).isEqualTo(Strategy.LEAST_LOADED);
        assertThat(chat.retryOn()).isEqualTo(new RetryPolicy(Set.of(429, 503), true, false));
        assertThat(chat.timeouts()).isEqualTo(
                new Timeouts(Duration.ofSeconds(1), Duration.ofSeconds(30), Duration.ofSeconds(10)));
        assertThat(chat.cache()).isEqualTo(CacheConfig.builder().enabled(true).ttl(Duration.ofMinutes(5)).build());
        assertThat(chat.health()).isEqualTo(health(5, Duration.ofSeconds(15), Duration.ofHours(1)));
        assertThat(chat.match().path()).isEqualTo("/v1/chat/*");
        assertThat(config.apiKeys().get(1).upstream()).isEqualTo("vision");
        assertThat(config.apiKeys().get(0).costPerCachedInputToken()).isEqualTo(0.000005);
        assertThat(config.apiKeys().get(0).cachedInputTokenCost()).isEqualTo(0.000005);
        assertThat(config.apiKeys().get(1).costPerCachedInputToken()).isNull();
        assertThat(config.apiKeys().get(1).cachedInputTokenCost()).isEqualTo(0.0001);
        assertThat(config.clients().get(0).allowedTasks()).containsExactly("chat");
        assertThat(config.clients().get(1).keySha256())
                .isEqualTo("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    }
}
