package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code keymux.schema.json} and {@link ConfigLoader} agree: every example passes both, each section
 * of the schema names exactly the fields its mapper accepts, and each broken config is refused by
 * both for the same reason at the same place.
 */
class ConfigSchemaTest {

    private static final Path EXAMPLES = Path.of("..", "examples");
    private static final Path SEED = EXAMPLES.resolve("neurodx-api-keys.json");
    private static final Path SEED_ENV = EXAMPLES.resolve(".env.api_keys.example");
    private static final String EDITOR_LINE =
            "# yaml-language-server: $schema=../proxy-config/src/main/resources/keymux.schema.json";
    private static final Schema SCHEMA =
            SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(ConfigSchema.text());
    private static final String KEY = """
            api_keys:
              - key_id: a
                api_key: sk-test
                task_types: [chat]
            """;

    @TempDir
    Path dir;

    static List<Path> examples() throws IOException {
        try (Stream<Path> files = Files.list(EXAMPLES)) {
            List<Path> found = files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".json"))
                    .sorted().toList();
            assertThat(found).hasSizeGreaterThanOrEqualTo(6);
            return found;
        }
    }

    private static List<String> schemaErrors(String document, InputFormat format) {
        return SCHEMA.validate(document, format).stream()
                .map(e -> e.getInstanceLocation() + " " + e.getKeyword() + ": " + e.getMessage()).toList();
    }

    @ParameterizedTest
    @MethodSource("examples")
    void everyExampleValidatesAgainstTheSchemaAndLoads(Path example) throws IOException {
        String text = Files.readString(example, StandardCharsets.UTF_8);
        boolean json = example.toString().endsWith(".json");
        assertThat(schemaErrors(text, json ? InputFormat.JSON : InputFormat.YAML)).isEmpty();
        if (!json) {
            assertThat(text.lines().findFirst()).contains(EDITOR_LINE);
        } else {
            assertThat(new ObjectMapper().readTree(text).path("$schema").asText())
                    .isEqualTo("../proxy-config/src/main/resources/keymux.schema.json");
        }
        LoadResult loaded = ConfigLoader.load(
                example, json ? List.of(SEED_ENV) : List.of(), Map.of(), dir);
        assertThat(loaded.problems()).isEmpty();
        assertThat(loaded.config()).isNotNull();
    }

    @Test
    void theEditorLinePointsAtTheSchemaFile() {
        assertThat(EXAMPLES.resolve("../proxy-config/src/main/resources/keymux.schema.json")).exists();
        assertThat(SEED).exists();
    }

    @Test
    void eachSectionOfTheSchemaNamesExactlyTheFieldsItsMapperAccepts() throws IOException {
        JsonNode schema = new ObjectMapper().readTree(ConfigSchema.text());
        Map<String, List<String>> sections = TreeMapper.allowedFields();
        assertThat(sections).isNotEmpty();
        for (Map.Entry<String, List<String>> section : sections.entrySet()) {
            JsonNode node = section.getKey().isEmpty() ? schema : schema.path("$defs").path(section.getKey());
            assertThat(node.isObject()).as("definition %s", section.getKey()).isTrue();
            TreeSet<String> names = new TreeSet<>();
            node.path("properties").fieldNames().forEachRemaining(names::add);
            assertThat(names)
                    .as("properties of %s", section.getKey().isEmpty() ? "(root)" : section.getKey())
                    .isEqualTo(new TreeSet<>(section.getValue()));
            assertThat(node.path("additionalProperties").isBoolean() && !node.path("additionalProperties").asBoolean())
                    .as("%s refuses unknown fields, like the loader", section.getKey())
                    .isTrue();
        }
    }

    @Test
    void everyPropertyHasADescription() throws IOException {
        JsonNode schema = new ObjectMapper().readTree(ConfigSchema.text());
        List<String> undescribed = new ArrayList<>();
        walk(schema, "#", undescribed);
        assertThat(undescribed).isEmpty();
    }

    private static void walk(JsonNode node, String at, List<String> undescribed) {
        if (node.isObject()) {
            JsonNode properties = node.path("properties");
            for (Map.Entry<String, JsonNode> p : iterable(properties.properties().iterator())) {
                if (!p.getValue().path("description").isTextual()) {
                    undescribed.add(at + "/properties/" + p.getKey());
                }
            }
            for (Map.Entry<String, JsonNode> e : iterable(node.properties().iterator())) {
                walk(e.getValue(), at + "/" + e.getKey(), undescribed);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                walk(node.get(i), at + "/" + i, undescribed);
            }
        }
    }

    @Test
    void anInterpolatedStringIsValidWhereANumberABooleanOrADurationIsExpected() {
        String yaml = """
                server:
                  port: ${PORT:-8080}
                  expose_key_id: ${EXPOSE:-true}
                  drain_timeout: ${DRAIN:-30s}
                api_keys:
                  - key_id: a
                    api_key: ${KEY:-sk-test}
                    task_types: [chat]
                    max_rpm: ${RPM:-100}
                    cost_per_token: ${COST:-0.5}
                """;
        assertThat(schemaErrors(yaml, InputFormat.YAML)).isEmpty();
        LoadResult loaded = new ConfigFixture(dir).yaml(yaml);
        assertThat(loaded.problems()).isEmpty();
        assertThat(loaded.config().apiKeys().get(0).maxRpm()).isEqualTo(100L);
    }

    /** A broken config, the loader's problem ({@code path: message} prefix) and where the schema objects (a JSON pointer). */
    record Broken(String name, String yaml, String problem, String schemaAt) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Broken> broken() {
        return List.of(
                new Broken("unknown top-level field", "sever: {}\n" + KEY, "sever: unknown field", ""),
                new Broken("no api_keys", "server: {port: 8080}\n", "api_keys: is required", ""),
                new Broken("negative max_rpm", KEY + "    max_rpm: -5\n", "api_keys[0].max_rpm: must be > 0",
                        "/api_keys/0/max_rpm"),
                new Broken("duration in words", "server: {drain_timeout: 30 seconds}\n" + KEY,
                        "server.drain_timeout: must be a duration", "/server/drain_timeout"),
                new Broken("zero cooldown", "health: {circuit_cooldown: 0s}\n" + KEY,
                        "health.circuit_cooldown: must be > 0", "/health/circuit_cooldown"),
                new Broken("port out of range", "server: {port: 70000}\n" + KEY,
                        "server.port: must be between 0 and 65535", "/server/port"),
                new Broken("unknown strategy", KEY + "tasks: [{name: chat, strategy: fastest}]\n",
                        "tasks[0].strategy: unknown strategy", "/tasks/0/strategy"),
                new Broken("task without name", KEY + "tasks: [{priority: 1}]\n", "tasks[0].name: is required",
                        "/tasks/0"),
                new Broken("max_attempts 0", KEY + "tasks: [{name: chat, max_attempts: 0}]\n",
                        "tasks[0].max_attempts: must be between 1 and 100", "/tasks/0/max_attempts"),
                new Broken("retry on 200", KEY + "tasks: [{name: chat, retry_on: [200]}]\n",
                        "tasks[0].retry_on[0]: must be an HTTP status 400-599", "/tasks/0/retry_on/0"),
                new Broken("unknown timeout", KEY + "tasks: [{name: chat, timeouts: {read: 5s}}]\n",
                        "tasks[0].timeouts.read: unknown field", "/tasks/0/timeouts"),
                new Broken("cache scope", KEY + "tasks: [{name: chat, cache: {scope: everyone}}]\n",
                        "tasks[0].cache.scope: must be client, task or global", "/tasks/0/cache/scope"),
                new Broken("match path", KEY + "tasks: [{name: chat, match: {path: v1/chat}}]\n",
                        "tasks[0].match.path: must start with /", "/tasks/0/match/path"),
                new Broken("custom upstream without base_url", "upstreams: {vision: {auth: bearer}}\n" + KEY,
                        "upstreams.vision.base_url: is required", "/upstreams/vision"),
                new Broken("auth basic", "upstreams: {vision: {base_url: 'https://v.example.com', auth: basic}}\n" + KEY,
                        "upstreams.vision.auth: must be bearer, header:NAME or query:NAME", "/upstreams/vision/auth"),
                new Broken("base_url ftp", "upstreams: {vision: {base_url: 'ftp://v.example.com'}}\n" + KEY,
                        "upstreams.vision.base_url: must be an absolute http or https URL", "/upstreams/vision/base_url"),
                new Broken("limits backend", "limits: {backend: memcached}\n" + KEY,
                        "limits.backend: must be local or redis", "/limits/backend"),
                new Broken("redis uri", "limits: {redis: {uri: 'http://r:6379'}}\n" + KEY,
                        "limits.redis.uri: must start with redis://", "/limits/redis/uri"),
                new Broken("local_share above 1", "limits: {redis: {local_share: 1.5}}\n" + KEY,
                        "limits.redis.local_share: must be auto, or a number > 0 and <= 1", "/limits/redis/local_share"),
                new Broken("disabled_probe word", "health: {disabled_probe: sometimes}\n" + KEY,
                        "health.disabled_probe: must be a duration", "/health/disabled_probe"),
                new Broken("cache max_bytes 0", "cache: {max_bytes: 0}\n" + KEY, "cache.max_bytes: must be > 0",
                        "/cache/max_bytes"),
                new Broken("rpm_burst without max_rpm", KEY + "    rpm_burst: 10\n",
                        "api_keys[0].rpm_burst: requires max_rpm", "/api_keys/0"),
                new Broken("budget_warn_at without a budget", KEY + "    budget_warn_at: 0.8\n",
                        "api_keys[0].budget_warn_at: requires daily_budget_usd", "/api_keys/0"),
                new Broken("budget_warn_at above 1", KEY + "    daily_budget_usd: 5\n    budget_warn_at: 2\n",
                        "api_keys[0].budget_warn_at: must be > 0 and <= 1", "/api_keys/0/budget_warn_at"),
                new Broken("empty task_types", "api_keys: [{key_id: a, api_key: sk-test, task_types: []}]\n",
                        "api_keys[0].task_types: must list at least one task", "/api_keys/0/task_types"),
                new Broken("negative cost", KEY + "    cost_per_token: -1\n",
                        "api_keys[0].cost_per_token: must be >= 0", "/api_keys/0/cost_per_token"),
                new Broken("model limit without limits", KEY + "    models: {gpt-4o: {}}\n",
                        "api_keys[0].models[\"gpt-4o\"]: must set max_rpm or max_tpm", "/api_keys/0/models/gpt-4o"),
                new Broken("unknown key field", KEY + "    max_rph: 5\n", "api_keys[0].max_rph: unknown field",
                        "/api_keys/0"),
                new Broken("client with key and digest", KEY + "clients: [{name: c, key: k1, key_sha256: "
                        + "'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}]\n",
                        "clients[0]: exactly one of key and key_sha256 must be set", "/clients/0"),
                new Broken("client digest too short", KEY + "clients: [{name: c, key_sha256: abc}]\n",
                        "clients[0].key_sha256: must be 64 hex characters", "/clients/0/key_sha256"),
                new Broken("tls without key_file", "server: {tls: {cert_file: cert.pem}}\n" + KEY,
                        "server.tls.key_file: is required", "/server/tls"));
    }

    @ParameterizedTest
    @MethodSource("broken")
    void aBrokenConfigIsRefusedByTheLoaderAndByTheSchemaForTheSameReason(Broken c) {
        List<String> problems = new ConfigFixture(dir).problems(c.yaml());
        assertThat(problems).as("loader").anyMatch(p -> p.startsWith(c.problem()));
        List<String> errors = schemaErrors(c.yaml(), InputFormat.YAML);
        assertThat(errors).as("schema").anyMatch(e -> e.startsWith(c.schemaAt() + " "));
    }

    @Test
    void theSchemaIsAValidDraft202012Schema() {
        Schema meta = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
                .getSchema(com.networknt.schema.SchemaLocation.of("https://json-schema.org/draft/2020-12/schema"));
        List<Error> errors = meta.validate(ConfigSchema.text(), InputFormat.JSON);
        assertThat(errors).isEmpty();
    }

    private static <T> Iterable<T> iterable(java.util.Iterator<T> it) {
        return () -> it;
    }
}
