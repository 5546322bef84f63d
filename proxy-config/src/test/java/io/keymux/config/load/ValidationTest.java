package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every validation rule, each asserting the exact path and message. */
class ValidationTest {

    private static final String KEY = "api_keys:\n  - { key_id: k, api_key: s, task_types: [chat] }\n";

    @TempDir
    Path dir;

    private ConfigFixture fx;

    @BeforeEach
    void setUp() {
        fx = new ConfigFixture(dir);
    }

    private List<String> problems(String yaml) {
        return fx.problems(yaml);
    }

    @Test
    void unknownFieldsAtEveryLevel() {
        assertThat(problems("""
                srever: {}
                tasks:
                  - { name: chat, mach: { path: /x } }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat], max_rmp: 5 }
                """)).containsExactly(
                "srever: unknown field (expected one of: server, health, admin, limits, cache, affinity, upstreams,"
                        + " default_upstream, default_task, tasks, api_keys, clients)",
                "tasks[0].mach: unknown field (expected one of: name, priority, strategy, upstream, match, fallback,"
                        + " max_wait, max_attempts, retry_on, timeouts, cache, prompt_affinity, health)",
                "api_keys[0].max_rmp: unknown field (expected one of: key_id, api_key, upstream, task_types, max_rpm,"
                        + " max_tpm, rpm_burst, tpm_burst, max_concurrent, priority, weight, cost_per_token,"
                        + " cost_per_input_token, cost_per_output_token, cost_per_cached_input_token, daily_budget_usd,"
                        + " models, budget_warn_at)");
    }

    @Test
    void newerSectionsAreCheckedWithTheirPaths() {
        assertThat(problems("""
                health: { quota_probe: 0s, disabled_probe: sometimes, overload_backoff: soon }
                limits:
                  redis: { timeout: 0ms, failure_threshold: 0, local_share: half }
                cache: { max_bytes: -1, ttl: 5m }
                tasks:
                  - { name: chat, cache: { scope: everyone, stream: perhaps } }
                api_keys:
                  - key_id: k
                    api_key: s
                    task_types: [chat]
                    budget_warn_at: 1.5
                    models:
                      "gpt-4o": { max_rpm: 0, max_rmp: 5 }
                      "gpt-4o-mini*": {}
                  - { key_id: k2, api_key: s, task_types: [chat], budget_warn_at: 0.5 }
                """)).containsExactly(
                "health.quota_probe: must be > 0 (got \"0s\")",
                "health.disabled_probe: must be a duration like 500ms, 5s, 2m or 1h (got \"sometimes\")",
                "health.overload_backoff: must be a duration like 500ms, 5s, 2m or 1h (got \"soon\")",
                "limits.redis.timeout: must be > 0 (got \"0ms\")",
                "limits.redis.failure_threshold: must be > 0 (got 0)",
                "limits.redis.local_share: must be a number (got \"half\")",
                "cache.ttl: unknown field (expected one of: max_bytes)",
                "cache.max_bytes: must be > 0 (got -1)",
                "tasks[0].cache.scope: must be client, task or global (got \"everyone\")",
                "tasks[0].cache.stream: must be true or false (got \"perhaps\")",
                "api_keys[0].models[\"gpt-4o\"].max_rmp: unknown field (expected one of: max_rpm, max_tpm)",
                "api_keys[0].models[\"gpt-4o\"].max_rpm: must be > 0 (got 0)",
                "api_keys[0].models[\"gpt-4o-mini*\"]: must set max_rpm or max_tpm",
                "api_keys[0].budget_warn_at: must be > 0 and <= 1 (got 1.5)",
                "api_keys[1].budget_warn_at: requires daily_budget_usd");
    }

    @Test
    void wrongTypes() {
        assertThat(problems("""
                server: { port: eighty, expose_key_id: maybe }
                tasks: { name: chat }
                api_keys:
                  - { key_id: k, api_key: [s], task_types: chat, max_rpm: 1.5, cost_per_token: cheap }
                """)).containsExactly(
                "server.port: must be an integer (got \"eighty\")",
                "server.expose_key_id: must be true or false (got \"maybe\")",
                "tasks: must be a list (got an object)",
                "api_keys[0].api_key: must be a string (got a list)",
                "api_keys[0].task_types: must be a list (got a string)",
                "api_keys[0].max_rpm: must be an integer (got 1.5)",
                "api_keys[0].cost_per_token: must be a number (got \"cheap\")");
    }

    @Test
    void rootMustBeAnObjectWithApiKeys() {
        assertThat(problems("- a\n- b\n")).containsExactly(
                dir.resolve("keymux.yaml") + ": must be an object with api_keys (got a list)");
        assertThat(problems("tasks: [{ name: chat }]\n")).containsExactly(
                "api_keys: is required (expected: a list of at least one key)");
        assertThat(problems("api_keys: { key_id: k }\n")).containsExactly("api_keys: must be a list (got an object)");
        assertThat(problems("api_keys: []\n")).containsExactly("api_keys: must list at least one key");
    }

    @Test
    void duplicateNames() {
        assertThat(problems("""
                tasks:
                  - { name: chat }
                  - { name: chat }
                api_keys:
                  - { key_id: k1, api_key: s1, task_types: [chat] }
                  - { key_id: k1, api_key: s2, task_types: [chat] }
                clients:
                  - { name: web, key: c1 }
                  - { name: web, key: c2 }
                  - { name: other, key: c1 }
                """)).containsExactly(
                "tasks[1].name: duplicate task 'chat' (first at tasks[0])",
                "api_keys[1].key_id: duplicate key_id 'k1' (first at api_keys[0])",
                "clients[1].name: duplicate client 'web' (first at clients[0])",
                "clients[2]: same client key as clients[0] (each client needs its own key)");
    }

    @Test
    void everyTaskNeedsAKey() {
        assertThat(problems("""
                tasks:
                  - { name: chat }
                  - { name: lonely }
                  - { name: borrower, fallback: [chat] }
                """ + KEY)).containsExactly(
                "tasks[1]: task 'lonely' has no key (expected: an api_keys entry listing it in task_types,"
                        + " a fallback task with keys, or a key with task_types [\"*\"])");
        // A "*" key serves every task.
        assertThat(problems("""
                tasks:
                  - { name: lonely }
                api_keys:
                  - { key_id: k, api_key: s, task_types: ["*"] }
                """)).isEmpty();
    }

    @Test
    void fallbackMustNameAnExistingOtherTask() {
        assertThat(problems("""
                tasks:
                  - { name: chat, fallback: [chat] }
                  - { name: backup, fallback: [bakup] }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat, backup] }
                """)).containsExactly(
                "tasks[0].fallback[0]: a task cannot fall back to itself",
                "tasks[1].fallback[0]: unknown task 'bakup'");
    }

    @Test
    void upstreamReferencesMustExist() {
        assertThat(problems("""
                default_upstream: opneai
                tasks:
                  - { name: chat, upstream: nvidai }
                api_keys:
                  - { key_id: k, api_key: s, upstream: antrhopic, task_types: [chat] }
                """)).containsExactly(
                "default_upstream: unknown upstream 'opneai' (expected one of: openai, nvidia, anthropic)",
                "tasks[0].upstream: unknown upstream 'nvidai' (expected one of: openai, nvidia, anthropic)",
                "api_keys[0].upstream: unknown upstream 'antrhopic' (expected one of: openai, nvidia, anthropic)");
    }

    @Test
    void baseUrlMustBeAbsoluteHttpWithHost() {
        String expected = " (expected: ...)";
        assertThat(problems("""
                upstreams:
                  a: { base_url: "ftp://files.example.com" }
                  b: { base_url: "/relative" }
                  c: { base_url: "https://" }
                  d: { base_url: "https://x.example.com/v1?x=1" }
                  e: { auth: bearer }
                """ + KEY)).containsExactly(
                "upstreams.a.base_url: must be an absolute http or https URL with a host, without user:password@, query or fragment"
                        + " (got \"ftp://files.example.com\")",
                "upstreams.b.base_url: must be an absolute http or https URL with a host, without user:password@, query or fragment"
                        + " (got \"/relative\")",
                "upstreams.c.base_url: must be an absolute http or https URL with a host, without user:password@, query or fragment"
                        + " (got \"https://\")",
                "upstreams.d.base_url: must be an absolute http or https URL with a host, without user:password@, query or fragment"
                        + " (got \"https://x.example.com/v1?x=1\")",
                "upstreams.e.base_url: is required");
        assertThat(expected).isNotEmpty();
    }

    @Test
    void authStyle() {
        assertThat(problems("""
                upstreams:
                  a: { base_url: "https://a.example.com", auth: basic }
                  b: { base_url: "https://b.example.com", auth: "header:" }
                  c: { base_url: "https://c.example.com", auth: "cookie:x" }
                """ + KEY)).containsExactly(
                "upstreams.a.auth: must be bearer, header:NAME or query:NAME (got \"basic\")",
                "upstreams.b.auth: must be bearer, header:NAME or query:NAME (got \"header:\")",
                "upstreams.c.auth: must be bearer, header:NAME or query:NAME (got \"cookie:x\")");
    }

    @Test
    void limitsMustBePositive() {
        assertThat(problems("""
                api_keys:
                  - { key_id: a, api_key: s, task_types: [chat] }
                  - { key_id: b, api_key: s, task_types: [chat] }
                  - key_id: c
                    api_key: s
                    task_types: [chat]
                    max_rpm: -5
                    max_tpm: 0
                    rpm_burst: 0
                    tpm_burst: -1
                    max_concurrent: 0
                    weight: 0
                    daily_budget_usd: -1
                    cost_per_token: -0.5
                    cost_per_cached_input_token: -0.25
                """)).containsExactly(
                "api_keys[2].max_rpm: must be > 0 (got -5)",
                "api_keys[2].max_tpm: must be > 0 (got 0)",
                "api_keys[2].rpm_burst: must be > 0 (got 0)",
                "api_keys[2].tpm_burst: must be > 0 (got -1)",
                "api_keys[2].max_concurrent: must be > 0 (got 0)",
                "api_keys[2].weight: must be > 0 (got 0)",
                "api_keys[2].cost_per_token: must be >= 0 (got -0.5)",
                "api_keys[2].cost_per_cached_input_token: must be >= 0 (got -0.25)",
                "api_keys[2].daily_budget_usd: must be >= 0 (got -1)");
    }

    @Test
    void burstNeedsItsLimit() {
        assertThat(problems("""
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat], rpm_burst: 10, tpm_burst: 10 }
                """)).containsExactly(
                "api_keys[0].rpm_burst: requires max_rpm",
                "api_keys[0].tpm_burst: requires max_tpm");
    }

    @Test
    void portsAreZeroTo65535AndDistinct() {
        assertThat(problems("server: { port: 0, admin_port: 0 }\n" + KEY)).isEmpty();
        assertThat(problems("server: { port: 70000, admin_port: -1 }\n" + KEY)).containsExactly(
                "server.port: must be between 0 and 65535 (got 70000)",
                "server.admin_port: must be between 0 and 65535 (got -1)");
        assertThat(problems("server: { port: 9000, admin_port: 9000 }\n" + KEY)).containsExactly(
                "server.admin_port: must differ from server.port (got 9000)");
    }

    @Test
    void serverLimits() {
        assertThat(problems("""
                server: { max_body_bytes: 0, max_connections: -3, task_header: "", request_header_timeout: 0s }
                """ + KEY)).containsExactly(
                "server.max_body_bytes: must be > 0 (got 0)",
                "server.task_header: must not be empty",
                "server.request_header_timeout: must be > 0 (got \"0s\")",
                "server.max_connections: must be > 0 (got -3)");
    }

    @Test
    void tlsFilesMustExist() {
        assertThat(problems("""
                server: { tls: { cert_file: missing.pem } }
                """ + KEY)).containsExactly(
                "server.tls.cert_file: file not found (got \"missing.pem\", resolved against " + dir + ")",
                "server.tls.key_file: is required");
    }

    @Test
    void defaultTaskMustExist() {
        assertThat(problems("default_task: genral\n" + KEY)).containsExactly(
                "default_task: unknown task 'genral' (expected one of: chat)");
    }

    @Test
    void strategyDurationRetryAndAttempts() {
        assertThat(problems("""
                tasks:
                  - name: chat
                    strategy: fastest
                    max_wait: 5
                    max_attempts: 0
                    retry_on: [429, 302, connect_eror, timeout]
                    timeouts: { connect: 5 s, idle: 1d }
                    cache: { ttl: 0ms }
                """ + KEY)).containsExactly(
                "tasks[0].strategy: unknown strategy \"fastest\" (expected one of: round_robin, least_loaded,"
                        + " priority, cost, latency, weighted)",
                "tasks[0].max_attempts: must be between 1 and 100 (got 0)",
                "tasks[0].max_wait: must be a duration like 500ms, 5s, 2m or 1h (got 5)",
                "tasks[0].retry_on[1]: must be an HTTP status 400-599, connect_error or timeout (got 302)",
                "tasks[0].retry_on[2]: must be an HTTP status 400-599, connect_error or timeout (got \"connect_eror\")",
                "tasks[0].timeouts.connect: must be a duration like 500ms, 5s, 2m or 1h (got \"5 s\")",
                "tasks[0].timeouts.idle: must be a duration like 500ms, 5s, 2m or 1h (got \"1d\")",
                "tasks[0].cache.ttl: must be > 0 (got \"0ms\")");
    }

    @Test
    void taskNames() {
        assertThat(problems("""
                tasks:
                  - { priority: 1 }
                  - { name: "*" }
                  - { name: "" }
                  - { name: chat, match: { path: "v1/*" } }
                """ + KEY)).containsExactly(
                "tasks[0].name: is required",
                "tasks[1].name: \"*\" is reserved: in a key's task_types it lends the key to every task",
                "tasks[2].name: must not be empty",
                "tasks[3].match.path: must start with / (got \"v1/*\")");
    }

    @Test
    void keyIdApiKeyAndTaskTypesAreRequired() {
        assertThat(problems("""
                api_keys:
                  - { api_key: s, task_types: [chat] }
                  - { key_id: "", api_key: "", task_types: [] }
                  - { key_id: c, api_key: "${EMPTY:-}", task_types: [chat, ""] }
                  - { key_id: d }
                """)).containsExactly(
                "api_keys[0].key_id: is required",
                "api_keys[1].key_id: must not be empty",
                "api_keys[1].api_key: must not be empty",
                "api_keys[1].task_types: must list at least one task, or \"*\"",
                "api_keys[2].api_key: must not be empty",
                "api_keys[2].task_types[1]: must not be empty",
                "api_keys[3].api_key: is required",
                "api_keys[3].task_types: is required");
    }

    @Test
    void limitsBlock() {
        assertThat(problems("""
                limits: { backend: memcached, redis: { uri: "http://x", local_share: 1.5 } }
                """ + KEY)).containsExactly(
                "limits.backend: must be local or redis (got \"memcached\")",
                "limits.redis.uri: must start with redis:// or rediss:// (got \"http://x\")",
                "limits.redis.local_share: must be auto, or a number > 0 and <= 1 (got 1.5)");
        assertThat(problems("limits: { redis: { local_share: 0 } }\n" + KEY)).containsExactly(
                "limits.redis.local_share: must be auto, or a number > 0 and <= 1 (got 0)");
    }

    @Test
    void clients() {
        assertThat(problems("""
                clients:
                  - { name: both, key: a, key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }
                  - { name: neither }
                  - { name: short, key_sha256: abc123 }
                  - { name: picky, key: b, allowed_tasks: [chat, caht], max_rpm: 0, daily_budget_usd: -2 }
                """ + KEY)).containsExactly(
                "clients[0]: exactly one of key and key_sha256 must be set",
                "clients[1]: exactly one of key and key_sha256 must be set",
                "clients[2].key_sha256: must be 64 hex characters (the SHA-256 of the client key)",
                "clients[3].max_rpm: must be > 0 (got 0)",
                "clients[3].daily_budget_usd: must be >= 0 (got -2)",
                "clients[3].allowed_tasks[1]: unknown task 'caht'");
    }

    @Test
    void collectsEveryProblemInOnePass() {
        assertThat(problems("""
                server: { port: 99999 }
                default_task: nope
                tasks:
                  - { name: chat, fallback: [bakup], strategy: random }
                api_keys:
                  - { key_id: k, api_key: "${MISSING}", task_types: [chat], max_rpm: -5 }
                  - { key_id: k, api_key: s, task_types: [chat] }
                """)).hasSize(7);
    }

    @Test
    void noSecretValueAppearsInAnyProblemOrWarning() {
        String secret = "nvapi-SUPER-secret-value-1234";
        Map<String, String> env = Map.of("NVIDIA_KEY", secret, "CLIENT_KEY", secret + "-client");
        String yaml = """
                admin: { token: [nope] }
                tasks:
                  - { name: chat, max_wait: "${NVIDIA_KEY}", strategy: "${NVIDIA_KEY}", upstream: "${NVIDIA_KEY}" }
                api_keys:
                  - { key_id: "${NVIDIA_KEY}", api_key: "${NVIDIA_KEY}", task_types: [chat], max_rpm: "${NVIDIA_KEY}" }
                  - { key_id: k2, api_key: "${NVIDIA_KEY}", task_types: ["${NVIDIA_KEY}"], max_tpm: "${NVIDIA_KEY}" }
                  - { key_id: k3, api_key: 12, task_types: [chat], weight: "${NVIDIA_KEY}" }
                  - { key_id: k4, api_key: { v: "sk-literal-secret" }, task_types: [chat] }
                clients:
                  - { name: a, key: "${CLIENT_KEY}", allowed_tasks: ["${NVIDIA_KEY}"] }
                  - { name: b, key: "${CLIENT_KEY}", key_sha256: "${NVIDIA_KEY}" }
                  - { name: c, key: "${CLIENT_KEY}" }
                """;
        LoadResult result = fx.yaml(yaml, env);
        assertThat(result.problems()).hasSizeGreaterThan(8);
        String everything = result.problems() + "\n" + result.warnings();
        assertThat(everything).doesNotContain(secret).doesNotContain("SUPER").doesNotContain("sk-literal");
    }

    @Test
    void aSecretWrittenLiterallyInAMalformedValueOrAUrlIsNotEchoed() {
        List<String> found = problems("""
                upstreams:
                  u: { base_url: "https://user:hunter2pass@api.example.com/v1", auth: bearer }
                limits:
                  backend: redis
                  redis: { uri: "http://:redispass99@cache:6379" }
                tasks:
                  - { name: chat, upstream: u }
                api_keys:
                  - { key_id: k, api_key: s, task_types: [chat], max_rpm: "sk-proj-Abc123literal", max_tpm: "q8Zk29fLw0pXv7Rt5mN3sY1u" }
                """);
        String all = String.join("\n", found);
        assertThat(all).doesNotContain("hunter2pass").doesNotContain("redispass99").doesNotContain("Abc123literal")
                .doesNotContain("q8Zk29fLw0pXv7Rt5mN3sY1u");
        assertThat(found).contains(
                "upstreams.u.base_url: must be an absolute http or https URL with a host, without user:password@, query"
                        + " or fragment (got \"https://***@api.example.com/v1\")",
                "limits.redis.uri: must start with redis:// or rediss:// (got \"http://***@cache:6379\")",
                "api_keys[0].max_rpm: must be an integer (got a string that looks like a secret (not shown))",
                "api_keys[0].max_tpm: must be an integer (got a string that looks like a secret (not shown))");
    }

    @Test
    void aKeyOrTokenHoldingACarriageReturnOrLineFeedIsRefused() {
        Map<String, String> env = Map.of("FROM_FILE", "sk-from-a-file\n");
        LoadResult result = fx.yaml("""
                admin: { token: "tok\\r\\nX-Injected: 1" }
                tasks:
                  - { name: chat }
                api_keys:
                  - { key_id: k, api_key: "${FROM_FILE}", task_types: [chat] }
                clients:
                  - { name: a, key: "ck\\tey" }
                """, env);
        assertThat(result.problems()).extracting(Object::toString).anySatisfy(p -> assertThat(p)
                .startsWith("admin.token: must not contain control characters"))
                .anySatisfy(p -> assertThat(p).startsWith("api_keys[0].api_key: must not contain control characters"))
                .anySatisfy(p -> assertThat(p).startsWith("clients[0].key: must not contain control characters"));
        assertThat(result.problems().toString()).doesNotContain("sk-from-a-file").doesNotContain("X-Injected");
    }
}
