package io.keymux.server.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** Lints and renders helm/keymux with the Helm library bundled by helm-java (offline). */
class HelmChartTest {

    private static final Path CHART = Paths.get("../helm/keymux");
    private static final YAMLMapper YAML = new YAMLMapper();

    /** The chart rendered with {@code options}, one node per manifest that has a kind. */
    static List<JsonNode> render(UnaryOperator<TemplateCommand> options) throws IOException {
        String manifests = options.apply(new Helm(CHART).template().withName("demo").withNamespace("llm")
                // helm-java templates for Kubernetes 1.20 unless told; the chart needs 1.25+.
                .withKubeVersion("v1.31.0")).call();
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(manifests)) {
            while (it.hasNext()) {
                JsonNode doc = it.next();
                if (doc != null && doc.hasNonNull("kind")) {
                    docs.add(doc);
                }
            }
        }
        return docs;
    }

    private static List<JsonNode> ofKind(List<JsonNode> docs, String kind) {
        return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
    }

    private static JsonNode only(List<JsonNode> docs, String kind) {
        List<JsonNode> found = ofKind(docs, kind);
        assertThat(found).as(kind).hasSize(1);
        return found.get(0);
    }

    private static JsonNode container(JsonNode deployment) {
        JsonNode containers = deployment.at("/spec/template/spec/containers");
        assertThat(containers).hasSize(1);
        return containers.get(0);
    }

    @Test
    void lintPasses() {
        LintResult result = new Helm(CHART).lint().strict().call();
        assertThat(result.isFailed()).as("lint messages: %s", result.getMessages()).isFalse();
    }

    @Test
    void valuesFileStartsWithItsSchema() throws IOException {
        List<String> lines = Files.readAllLines(CHART.resolve("values.yaml"));
        assertThat(lines.get(0)).isEqualTo("# yaml-language-server: $schema=values.schema.json");
    }

    @Test
    void defaultDeployment() throws IOException {
        List<JsonNode> docs = render(t -> t);
        JsonNode deployment = only(docs, "Deployment");
        assertThat(deployment.at("/metadata/name").asText()).isEqualTo("demo-keymux");
        assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(1);

        JsonNode pod = deployment.at("/spec/template/spec");
        assertThat(pod.at("/terminationGracePeriodSeconds").asInt()).isEqualTo(45);
        assertThat(pod.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
        assertThat(pod.at("/automountServiceAccountToken").asBoolean()).isFalse();
        assertThat(pod.at("/serviceAccountName").asText()).isEqualTo("demo-keymux");

        JsonNode annotations = deployment.at("/spec/template/metadata/annotations");
        assertThat(annotations.path("checksum/config").asText()).hasSize(64);
        String secretChecksum = annotations.path("checksum/secret").asText();
        assertThat(secretChecksum).hasSize(64);
        JsonNode rotated = only(render(t -> t.set("secretRevision", "2")), "Deployment");
        assertThat(rotated.at("/spec/template/metadata/annotations/checksum~1secret").asText())
                .hasSize(64).isNotEqualTo(secretChecksum);

        JsonNode c = container(deployment);
        assertThat(c.at("/image").asText()).isEqualTo("ghcr.io/keymux/keymux:0.1.0");
        assertThat(YAML.convertValue(c.get("args"), List.class))
                .containsExactly("serve", "--config", "/etc/keymux/config.yaml");
        assertThat(c.at("/ports/0/name").asText()).isEqualTo("proxy");
        assertThat(c.at("/ports/0/containerPort").asInt()).isEqualTo(8080);
        assertThat(c.at("/ports/1/name").asText()).isEqualTo("admin");
        assertThat(c.at("/ports/1/containerPort").asInt()).isEqualTo(9090);
        assertThat(c.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
        assertThat(c.at("/livenessProbe/httpGet/port").asText()).isEqualTo("admin");
        assertThat(c.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
        assertThat(c.at("/readinessProbe/httpGet/port").asText()).isEqualTo("admin");
        assertThat(c.at("/lifecycle/preStop/sleep/seconds").asInt()).isEqualTo(5);
        assertThat(c.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
        assertThat(c.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
        assertThat(c.at("/securityContext/allowPrivilegeEscalation").asBoolean()).isFalse();
        assertThat(c.at("/securityContext/capabilities/drop/0").asText()).isEqualTo("ALL");
        assertThat(c.at("/volumeMounts/0/mountPath").asText()).isEqualTo("/etc/keymux");
        assertThat(c.at("/volumeMounts/0/subPath").isMissingNode()).isTrue();
        assertThat(c.at("/volumeMounts/1/mountPath").asText()).isEqualTo("/tmp");
        assertThat(c.has("envFrom")).isFalse();

        JsonNode service = only(docs, "Service");
        assertThat(service.at("/spec/ports/0/port").asInt()).isEqualTo(8080);
        assertThat(service.at("/spec/ports/1/port").asInt()).isEqualTo(9090);
        assertThat(service.at("/spec/ports/1/targetPort").asText()).isEqualTo("admin");
        only(docs, "ServiceAccount");
        assertThat(only(docs, "PodDisruptionBudget").at("/spec/maxUnavailable").asInt()).isEqualTo(1);
        assertThat(ofKind(docs, "HorizontalPodAutoscaler")).isEmpty();
        assertThat(ofKind(docs, "ServiceMonitor")).isEmpty();
    }

    @Test
    void configMapHoldsTheConfig() throws IOException {
        JsonNode configMap = only(render(t -> t), "ConfigMap");
        JsonNode config = YAML.readTree(configMap.at("/data/config.yaml").asText());
        assertThat(config.at("/server/port").asInt()).isEqualTo(8080);
        assertThat(config.at("/server/admin_port").asInt()).isEqualTo(9090);
        assertThat(config.at("/server/drain_timeout").asText()).isEqualTo("30s");
        assertThat(config.at("/admin/token").asText()).isEqualTo("${KEYMUX_ADMIN_TOKEN}");
        assertThat(config.at("/api_keys/0/api_key").asText()).isEqualTo("${OPENAI_API_KEY}");
        assertThat(config.has("limits")).isFalse();
    }

    @Test
    void autoscalingOmitsReplicas() throws IOException {
        List<JsonNode> docs = render(t -> t.set("autoscaling.enabled", true).set("replicaCount", 3));
        JsonNode deployment = only(docs, "Deployment");
        assertThat(deployment.at("/spec").has("replicas")).isFalse();
        JsonNode hpa = only(docs, "HorizontalPodAutoscaler");
        assertThat(hpa.at("/spec/scaleTargetRef/name").asText()).isEqualTo("demo-keymux");
        assertThat(hpa.at("/spec/minReplicas").asInt()).isEqualTo(2);
        assertThat(hpa.at("/spec/maxReplicas").asInt()).isEqualTo(10);
        assertThat(hpa.at("/spec/metrics")).hasSize(1);
        assertThat(hpa.at("/spec/metrics/0/resource/name").asText()).isEqualTo("cpu");
    }

    @Test
    void serviceMonitorOnlyWhenEnabled() throws IOException {
        assertThat(ofKind(render(t -> t), "ServiceMonitor")).isEmpty();
        List<JsonNode> docs = render(t -> t.set("serviceMonitor.enabled", true)
                .set("serviceMonitor.labels.release", "prom"));
        JsonNode monitor = only(docs, "ServiceMonitor");
        assertThat(monitor.at("/metadata/labels/release").asText()).isEqualTo("prom");
        assertThat(monitor.at("/spec/endpoints/0/port").asText()).isEqualTo("admin");
        assertThat(monitor.at("/spec/endpoints/0/path").asText()).isEqualTo("/metrics");
        assertThat(monitor.at("/spec/selector/matchLabels/app.kubernetes.io~1instance").asText()).isEqualTo("demo");
    }

    @Test
    void secretRedisAndPortsFlowIntoThePod() throws IOException {
        List<JsonNode> docs = render(t -> t.set("existingSecret", "keymux-keys")
                .set("redis.uri", "redis://redis:6379")
                .set("config.server.admin_port", 9191)
                .set("extraEnv[0].name", "JAVA_TOOL_OPTIONS")
                .set("extraEnv[0].value", "-XX:MaxRAMPercentage=75")
                .set("preStop.sleepAction", false));
        JsonNode c = container(only(docs, "Deployment"));
        assertThat(c.at("/envFrom/0/secretRef/name").asText()).isEqualTo("keymux-keys");
        assertThat(c.at("/env/0/name").asText()).isEqualTo("JAVA_TOOL_OPTIONS");
        assertThat(c.at("/ports/1/containerPort").asInt()).isEqualTo(9191);
        assertThat(YAML.convertValue(c.at("/lifecycle/preStop/exec/command"), List.class)).containsExactly("sleep", "5");
        JsonNode config = YAML.readTree(only(docs, "ConfigMap").at("/data/config.yaml").asText());
        assertThat(config.at("/limits/backend").asText()).isEqualTo("redis");
        assertThat(config.at("/limits/redis/uri").asText()).isEqualTo("redis://redis:6379");
        assertThat(config.at("/server/admin_port").asInt()).isEqualTo(9191);
    }

    /**
     * helm-java's template leaves hooks out, so the test pod is checked in two steps: a client-only
     * dry-run install renders every template, hooks included (a broken one fails it), and prints
     * the NOTES; the pod's source says what it does.
     */
    @Test
    void notesAndTestHookRender() throws IOException {
        Release release = new Helm(CHART).install().withName("demo").withNamespace("llm")
                .clientOnly().withDryRunOption(DryRun.CLIENT).withKubeVersion("v1.31.0")
                .set("existingSecret", "keymux-keys").call();
        assertThat(release.getOutput())
                .contains("http://demo-keymux.llm.svc:8080/v1")
                .contains("port-forward svc/demo-keymux 9090:9090")
                .contains("helm test demo -n llm")
                .doesNotContain("WARNING: existingSecret is empty");

        String testPod = Files.readString(CHART.resolve("templates/tests/test-connection.yaml"));
        assertThat(testPod)
                .contains("\"helm.sh/hook\": test")
                .contains("http://{{ include \"keymux.fullname\" . }}:{{ .Values.service.ports.admin }}/healthz")
                // keymux's own image runs the check (keymux probe), not an image keymux does not build.
                .contains("image: {{ include \"keymux.image\" . | quote }}")
                .contains("- probe")
                .doesNotContain("curl")
                .contains("{{- if .Values.tests.enabled }}");
    }

    /** The pod's memory limit is the one the image's JVM flags are sized for (BENCHMARKS.md). */
    @Test
    void defaultResourcesAreTheMeasuredOnes() throws IOException {
        JsonNode c = container(only(render(t -> t), "Deployment"));
        assertThat(c.at("/resources/limits/memory").asText()).isEqualTo("512Mi");
        assertThat(c.at("/resources/requests/memory").asText()).isEqualTo("512Mi");
        assertThat(c.at("/resources/requests/cpu").asText()).isEqualTo("250m");
    }

    @Test
    void schemaRefusesUnknownValues() {
        assertThatThrownBy(() -> render(t -> t.set("replicaCuont", 2)))
                .hasMessageContaining("replicaCuont");
        assertThatThrownBy(() -> render(t -> t.set("image.pullPolicy", "Sometimes")))
                .hasMessageContaining("pullPolicy");
    }

    @Test
    void valuesHoldNoSecrets() throws IOException {
        Map<?, ?> values = YAML.readValue(CHART.resolve("values.yaml").toFile(), Map.class);
        assertThat(values.get("existingSecret")).isEqualTo("");
        String text = Files.readString(CHART.resolve("values.yaml"));
        assertThat(text).doesNotContain("sk-").doesNotContainPattern("(?m)^\\s*(api_key|key|token):\\s*[^$\\s]");
    }
}
