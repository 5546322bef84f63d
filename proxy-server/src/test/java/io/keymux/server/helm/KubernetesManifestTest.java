package io.keymux.server.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The chart's rendered manifests are valid Kubernetes objects: each document is read into the
 * fabric8 Kubernetes API model of its kind and version, failing on a wrong type, and every field the
 * model does not know (which fabric8 would keep aside in {@code additionalProperties}) is an error.
 * Rendered with the default values and with {@code ci/every-option-values.yaml}, which sets every value.
 *
 * <p>The ServiceMonitor (a Prometheus Operator CRD, not in the Kubernetes API) is checked by hand
 * for its few fields. The {@code helm test} Pod is a hook, which helm-java's template leaves out, so it
 * is not checked here.
 */
class KubernetesManifestTest {

    private static final Path CHART = Paths.get("../helm/keymux");
    private static final Path EVERY_OPTION = CHART.resolve("ci/every-option-values.yaml");
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final JsonMapper KUBE = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    /** The API version and model class of each kind the chart renders. */
    private record Kind(String apiVersion, Class<?> model) {}

    private static final Map<String, Kind> KINDS = Map.of(
            "ConfigMap", new Kind("v1", ConfigMap.class),
            "Service", new Kind("v1", Service.class),
            "ServiceAccount", new Kind("v1", ServiceAccount.class),
            "Pod", new Kind("v1", Pod.class),
            "Deployment", new Kind("apps/v1", Deployment.class),
            "HorizontalPodAutoscaler", new Kind("autoscaling/v2", HorizontalPodAutoscaler.class),
            "PodDisruptionBudget", new Kind("policy/v1", PodDisruptionBudget.class));

    private static List<String> problems(List<JsonNode> docs) {
        List<String> problems = new ArrayList<>();
        for (JsonNode doc : docs) {
            String kind = doc.path("kind").asText();
            String where = kind + " " + doc.at("/metadata/name").asText();
            if (kind.equals("ServiceMonitor")) {
                serviceMonitor(doc, where, problems);
                continue;
            }
            Kind k = KINDS.get(kind);
            if (k == null) {
                problems.add(where + ": no model for this kind");
                continue;
            }
            if (!doc.path("apiVersion").asText().equals(k.apiVersion())) {
                problems.add(where + ": apiVersion " + doc.path("apiVersion").asText() + " (expected: " + k.apiVersion() + ")");
            }
            try {
                Object model = KUBE.readValue(doc.toString(), k.model());
                unknownFields(model, where, problems, new IdentityHashMap<>());
            } catch (RuntimeException e) {
                problems.add(where + ": " + e.getMessage());
            }
        }
        return problems;
    }

    /** Walks the model's getters; an {@code additionalProperties} entry is a field Kubernetes does not have. */
    private static void unknownFields(Object model, String path, List<String> problems, Map<Object, Boolean> seen) {
        if (model == null || seen.put(model, true) != null) {
            return;
        }
        if (model instanceof Collection<?> c) {
            int i = 0;
            for (Object e : c) {
                unknownFields(e, path + "[" + i++ + "]", problems, seen);
            }
            return;
        }
        if (model instanceof Map<?, ?> m) {
            m.forEach((key, value) -> unknownFields(value, path + "." + key, problems, seen));
            return;
        }
        if (!model.getClass().getName().startsWith("io.fabric8.")) {
            return;
        }
        for (Method getter : model.getClass().getMethods()) {
            if (getter.getParameterCount() != 0 || Modifier.isStatic(getter.getModifiers())
                    || !getter.getName().startsWith("get") || getter.getDeclaringClass() == Object.class) {
                continue;
            }
            Object value;
            try {
                value = getter.invoke(model);
            } catch (IllegalAccessException | InvocationTargetException e) {
                continue;
            }
            if (getter.getName().equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    problems.add(path + ": unknown fields " + new TreeSet<>(extra.keySet().stream().map(String::valueOf).toList()));
                }
            } else {
                String name = Character.toLowerCase(getter.getName().charAt(3)) + getter.getName().substring(4);
                unknownFields(value, path + "." + name, problems, seen);
            }
        }
    }

    private static void serviceMonitor(JsonNode doc, String where, List<String> problems) {
        if (!doc.path("apiVersion").asText().equals("monitoring.coreos.com/v1")) {
            problems.add(where + ": apiVersion " + doc.path("apiVersion").asText());
        }
        Set<String> specFields = Set.of("selector", "endpoints", "namespaceSelector", "jobLabel");
        doc.path("spec").fieldNames().forEachRemaining(f -> {
            if (!specFields.contains(f)) {
                problems.add(where + ": unknown field spec." + f);
            }
        });
        Set<String> endpointFields = Set.of("port", "path", "interval", "scrapeTimeout", "scheme", "relabelings",
                "metricRelabelings", "honorLabels");
        for (JsonNode e : doc.at("/spec/endpoints")) {
            e.fieldNames().forEachRemaining(f -> {
                if (!endpointFields.contains(f)) {
                    problems.add(where + ": unknown field spec.endpoints[]." + f);
                }
            });
        }
    }

    @Test
    void defaultValuesRenderValidKubernetesObjects() throws IOException {
        List<JsonNode> docs = HelmChartTest.render(t -> t);
        assertThat(docs).extracting(d -> d.path("kind").asText())
                .contains("ConfigMap", "Service", "ServiceAccount", "Deployment", "PodDisruptionBudget");
        assertThat(problems(docs)).isEmpty();
    }

    @Test
    void everyOptionRendersValidKubernetesObjects() throws IOException {
        List<JsonNode> docs = HelmChartTest.render(t -> t.withValuesFile(EVERY_OPTION));
        assertThat(docs).extracting(d -> d.path("kind").asText())
                .contains("ConfigMap", "Service", "ServiceAccount", "Deployment", "PodDisruptionBudget",
                        "HorizontalPodAutoscaler", "ServiceMonitor");
        assertThat(problems(docs)).isEmpty();
    }

    @Test
    void aFieldKubernetesDoesNotHaveIsCaught() throws IOException {
        List<JsonNode> docs = HelmChartTest.render(t -> t);
        JsonNode deployment = docs.stream().filter(d -> d.path("kind").asText().equals("Deployment")).findFirst()
                .orElseThrow();
        ((com.fasterxml.jackson.databind.node.ObjectNode) deployment.at("/spec/template/spec")).put("restartPolicyy", "Always");
        ((com.fasterxml.jackson.databind.node.ObjectNode) deployment.at("/spec")).put("replicas", "three");
        assertThat(problems(List.of(deployment)))
                .anyMatch(p -> p.contains("restartPolicyy") || p.contains("replicas"));
        JsonNode typo = HelmChartTest.render(t -> t).stream().filter(d -> d.path("kind").asText().equals("Service")).findFirst()
                .orElseThrow();
        ((com.fasterxml.jackson.databind.node.ObjectNode) typo.at("/spec")).put("clusterIPP", "None");
        assertThat(problems(List.of(typo))).singleElement().asString().contains("clusterIPP");
    }

    @Test
    void theEveryOptionFileSetsEveryValueOfTheChart() throws IOException {
        JsonNode defaults = YAML.readTree(CHART.resolve("values.yaml").toFile());
        JsonNode every = YAML.readTree(EVERY_OPTION.toFile());
        List<String> missing = new ArrayList<>();
        leaves(defaults, "", path -> {
            if (!path.startsWith("/config") && every.at(path).isMissingNode()) {
                missing.add(path);
            }
        });
        assertThat(missing).isEmpty();
    }

    private static void leaves(JsonNode node, String path, java.util.function.Consumer<String> out) {
        if (node.isObject() && !node.isEmpty()) {
            node.properties().forEach(e -> leaves(e.getValue(), path + "/" + e.getKey(), out));
        } else {
            out.accept(path);
        }
    }
}
