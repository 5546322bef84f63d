package io.keymux.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Helm chart's own pod: {@code helm template} of helm/keymux (its ConfigMap and Deployment,
 * default values but for test ports and environment) run by {@code podman kube play}, which
 * applies the chart's user, security contexts, volumes and memory limit (not its probes). Needs
 * the podman CLI besides the image; skips without them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChartPodIT {
    private static final Path CHART = Path.of("..", "helm", "keymux");
    private static final YAMLMapper YAML = new YAMLMapper();

    private Path manifest;
    private String container;
    /** The chart's default ports (values config.server). */
    private static final int ADMIN_PORT = 9090;
    private String podIp = "";

    private @Nullable String skip;

    @BeforeEach
    void assumeImage() {
        assumeTrue(skip == null, skip);
    }

    @BeforeAll
    void play(@TempDir Path temp) throws Exception {
        skip = ImageUnderTest.whyNot();
        if (skip == null && podman("--version").exit != 0) {
            skip = "SKIPPED: no podman CLI for `podman kube play`";
            System.err.println("[proxy-image] " + skip);
        }
        if (skip != null) {
            return;
        }
        ImageUnderTest.require();
        String rendered = new Helm(CHART).template().withName("demo").withNamespace("llm").withKubeVersion("v1.31.0")
                .set("image.tag", ImageUnderTest.VERSION)
                // Stand-ins for existingSecret: kube play has no Secret to read here.
                .set("extraEnv[0].name", "OPENAI_API_KEY").set("extraEnv[0].value", "sk-chart-pod-test")
                .set("extraEnv[1].name", "KEYMUX_CLIENT_KEY").set("extraEnv[1].value", "client-chart-pod-test")
                .set("extraEnv[2].name", "KEYMUX_ADMIN_TOKEN").set("extraEnv[2].value", "admin-chart-pod-test")
                .call();
        StringBuilder kube = new StringBuilder();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(rendered)) {
            while (it.hasNext()) {
                JsonNode doc = it.next();
                String kind = doc == null ? "" : doc.path("kind").asText();
                if (kind.equals("ConfigMap") || kind.equals("Deployment")) {
                    kube.append("---\n").append(YAML.writeValueAsString(doc).replaceFirst("^---\n", ""));
                }
            }
        }
        manifest = temp.resolve("keymux-kube.yaml");
        Files.writeString(manifest, kube.toString());
        // On podman's default kube network (a bridge): the pod has an address of its own, as in a cluster.
        Run played = podman("kube", "play", manifest.toString());
        assertThat(played.exit).as("podman kube play: %s", played.out).isZero();
        Matcher id = Pattern.compile("(?s)Container:\\s*\\n([0-9a-f]{12,})").matcher(played.out);
        assertThat(id.find()).as("a container id in: %s", played.out).isTrue();
        container = id.group(1);
        String infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", "demo-keymux-pod-0").out.strip();
        podIp = podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", infra).out.strip();
        assertThat(podIp).as("the pod's address").matches("[0-9.]+");
        String admin = "http://" + podIp + ":" + ADMIN_PORT;
        ImageUnderTest.await("/healthz 200 from the chart's pod", () -> ImageUnderTest.status(admin + "/healthz") == 200);
        ImageUnderTest.await("/readyz 200 from the chart's pod", () -> ImageUnderTest.status(admin + "/readyz") == 200);
    }

    @AfterAll
    void down() throws Exception {
        if (manifest != null) {
            podman("kube", "play", "--down", manifest.toString());
        }
    }

    @Test
    void runsAsTheChartSays() throws Exception {
        assertThat(exec("cat", "/proc/1/status").out)
                .containsPattern("(?m)^Uid:\\s+10001\\s+10001\\s+10001\\s+10001$")
                .containsPattern("(?m)^CapEff:\\s+0+$")
                .containsPattern("(?m)^NoNewPrivs:\\s+1$");
        assertThat(podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", container).out.strip()).isEqualTo("true");
        assertThat(exec("sh", "-c", "touch /app/x").exit).as("write to the root").isNotZero();
        assertThat(exec("sh", "-c", "touch /tmp/x").exit).as("write to the emptyDir /tmp").isZero();
        String limit = exec("sh", "-c",
                "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes").out.strip();
        assertThat(limit).as("the chart's memory limit").isEqualTo(String.valueOf(512L << 20));
    }

    @Test
    void servesTheMountedConfigMap() throws Exception {
        String config = exec("cat", "/etc/keymux/config.yaml").out;
        assertThat(config).contains("admin_port: " + ADMIN_PORT).contains("${OPENAI_API_KEY}");
        assertThat(exec("sh", "-c", "touch /etc/keymux/x").exit).as("write to the config volume").isNotZero();
        // The admin token came from the config's ${KEYMUX_ADMIN_TOKEN} and the pod's environment.
        String keys = "http://" + podIp + ":" + ADMIN_PORT + "/admin/keys";
        assertThat(ImageUnderTest.status(keys)).as("/admin/keys without the token").isEqualTo(401);
        var withToken = ImageUnderTest.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(keys))
                .header("Authorization", "Bearer admin-chart-pod-test").GET().build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(withToken.statusCode()).isEqualTo(200);
        assertThat(withToken.body()).contains("openai_primary").doesNotContain("sk-chart-pod-test");
    }

    /** What the chart's helm test pod runs: keymux probe in the same image, as the same user. */
    @Test
    void theTestHookProbeSeesIt() throws Exception {
        String image = ImageUnderTest.CHART_REPOSITORY + ":" + ImageUnderTest.VERSION;
        Run ok = podman("run", "--rm", "--network", "host", "--read-only", "--user", "10001:10001", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", image, "probe", "--timeout", "10",
                "http://" + podIp + ":" + ADMIN_PORT + "/healthz");
        assertThat(ok.exit).as(ok.out).isZero();
        assertThat(ok.out).contains("probe http://" + podIp + ":" + ADMIN_PORT + "/healthz: 200");
        Run refused = podman("run", "--rm", "--network", "host", "--read-only", "--user", "10001:10001", image,
                "probe", "http://" + podIp + ":" + ADMIN_PORT + "/no-such-page");
        assertThat(refused.exit).as(refused.out).isEqualTo(1);
    }

    private Run exec(String... command) throws Exception {
        List<String> args = new ArrayList<>(List.of("exec", container));
        args.addAll(List.of(command));
        return podman(args.toArray(String[]::new));
    }

    private record Run(int exit, String out) {}

    private static Run podman(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("podman"));
        command.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException noPodman) {
            return new Run(-1, noPodman.toString());
        }
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(ImageUnderTest.WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("podman " + String.join(" ", args) + " took over " + ImageUnderTest.WAIT);
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
