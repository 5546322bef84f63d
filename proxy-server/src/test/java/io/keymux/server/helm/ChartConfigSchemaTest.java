package io.keymux.server.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import io.keymux.config.load.ConfigSchema;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chart's {@code values.schema.json} checks {@code config} with keymux's own schema, so
 * {@code helm install} refuses a config that {@code keymux validate} would refuse, before a pod starts.
 *
 * <p>Helm 3 validates values as JSON Schema draft-07, so the chart holds a draft-07 rendering of
 * {@code keymux.schema.json} (draft 2020-12): its {@code $defs} become {@code definitions} named
 * {@code config-NAME} (the document itself is {@code config}), references are rewritten to match, and
 * {@code dependentRequired} becomes draft-07's {@code dependencies}. Every other keyword the schema
 * uses means the same in both drafts, and no {@code $ref} has a sibling that draft-07 would ignore
 * other than {@code description}. This test derives that rendering and compares; after changing
 * {@code keymux.schema.json}, run it once with {@code -Dkeymux.writeChartSchema=true} to rewrite the
 * chart's copy.
 */
class ChartConfigSchemaTest {

    private static final Path CHART = Paths.get("../helm/keymux");
    private static final Path VALUES_SCHEMA = CHART.resolve("values.schema.json");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "config";

    /** {@code keymux.schema.json} as draft-07 definitions, by name. */
    static Map<String, JsonNode> draft07Definitions() throws IOException {
        JsonNode schema = JSON.readTree(ConfigSchema.text());
        Map<String, JsonNode> defs = new java.util.LinkedHashMap<>();
        ObjectNode root = (ObjectNode) draft07(schema);
        root.remove(List.of("$schema", "$id", "$defs", "title"));
        defs.put(PREFIX, root);
        schema.path("$defs").properties().forEach(e -> defs.put(PREFIX + "-" + e.getKey(), draft07(e.getValue())));
        return defs;
    }

    private static JsonNode draft07(JsonNode node) {
        if (node.isObject()) {
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                String key = e.getKey().equals("dependentRequired") ? "dependencies" : e.getKey();
                JsonNode value = e.getValue();
                if (key.equals("$ref") && value.isTextual() && value.textValue().startsWith("#/$defs/")) {
                    out.put(key, "#/definitions/" + PREFIX + "-" + value.textValue().substring("#/$defs/".length()));
                } else {
                    out.set(key, draft07(value));
                }
            }
            return out;
        }
        if (node.isArray()) {
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            node.forEach(n -> out.add(draft07(n)));
            return out;
        }
        return node;
    }

    @Test
    void theChartHoldsTheDraft07RenderingOfTheConfigSchema() throws IOException {
        ObjectNode values = (ObjectNode) JSON.readTree(VALUES_SCHEMA.toFile());
        Map<String, JsonNode> expected = draft07Definitions();
        if (Boolean.getBoolean("keymux.writeChartSchema")) {
            ObjectNode definitions = (ObjectNode) values.get("definitions");
            List<String> stale = new ArrayList<>();
            definitions.fieldNames().forEachRemaining(n -> {
                if (n.equals(PREFIX) || n.startsWith(PREFIX + "-")) {
                    stale.add(n);
                }
            });
            definitions.remove(stale);
            expected.forEach(definitions::set);
            Files.writeString(VALUES_SCHEMA, JSON.enable(SerializationFeature.INDENT_OUTPUT)
                    .writerWithDefaultPrettyPrinter().writeValueAsString(values) + "\n", StandardCharsets.UTF_8);
            values = (ObjectNode) JSON.readTree(VALUES_SCHEMA.toFile());
        }
        Map<String, JsonNode> actual = new java.util.LinkedHashMap<>();
        values.path("definitions").properties().forEach(e -> {
            if (e.getKey().equals(PREFIX) || e.getKey().startsWith(PREFIX + "-")) {
                actual.put(e.getKey(), e.getValue());
            }
        });
        assertThat(actual)
                .as("helm/keymux/values.schema.json is out of date: run ChartConfigSchemaTest with"
                        + " -Dkeymux.writeChartSchema=true")
                .isEqualTo(expected);
        assertThat(values.at("/properties/config/allOf/0/$ref").asText()).isEqualTo("#/definitions/" + PREFIX);
        assertThat(values.path("$schema").asText()).isEqualTo("http://json-schema.org/draft-07/schema#");
    }

    @Test
    void noReferenceHasASiblingThatDraft07WouldIgnore() throws IOException {
        List<String> found = new ArrayList<>();
        siblings(JSON.readTree(ConfigSchema.text()), "#", found);
        assertThat(found).isEmpty();
    }

    private static void siblings(JsonNode node, String at, List<String> found) {
        if (node.isObject()) {
            if (node.has("$ref")) {
                node.fieldNames().forEachRemaining(n -> {
                    if (!n.equals("$ref") && !n.equals("description")) {
                        found.add(at + "/" + n);
                    }
                });
            }
            node.properties().forEach(e -> siblings(e.getValue(), at + "/" + e.getKey(), found));
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                siblings(node.get(i), at + "/" + i, found);
            }
        }
    }

    @TempDir
    Path dir;

    /** {@code helm template} with the default values and this values file on top. */
    private String template(String values) throws IOException {
        Path file = Files.writeString(dir.resolve("values-" + System.nanoTime() + ".yaml"), values);
        return new Helm(CHART).template().withName("demo").withKubeVersion("v1.31.0").withValuesFile(file).call();
    }

    private static final String KEY = """
            config:
              api_keys:
                - key_id: openai_primary
                  api_key: ${OPENAI_API_KEY}
                  task_types: [general]
            """;

    @Test
    void helmRefusesAConfigThatKeymuxWouldRefuse() {
        assertThatThrownBy(() -> template(KEY + "      max_rpm: -5\n"))
                .hasMessageContaining("/config/api_keys/0/max_rpm");
        assertThatThrownBy(() -> template(KEY + "  sever: {port: 8080}\n"))
                .hasMessageContaining("sever");
        assertThatThrownBy(() -> template(KEY + "  tasks: [{name: general, strategy: fastest}]\n"))
                .hasMessageContaining("/config/tasks/0/strategy");
        assertThatThrownBy(() -> template(KEY + "  server: {drain_timeout: 30 seconds}\n"))
                .hasMessageContaining("/config/server/drain_timeout");
        assertThatThrownBy(() -> template(KEY + "  server: {port: '${PORT}'}\n"))
                .as("the container port is read from config.server.port, so the chart wants a number")
                .hasMessageContaining("/config/server/port");
    }

    @Test
    void helmAcceptsInterpolationWhereANumberIsExpected() throws IOException {
        String manifests = template(KEY + "      max_rpm: ${RPM:-100}\n");
        assertThat(manifests).contains("max_rpm: ${RPM:-100}");
    }
}
