package io.keymux.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.Capability;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * keymux's image run as the Helm chart runs it: user 10001, read-only root with a tmpfs /tmp, no
 * capabilities, no-new-privileges, the engine's default seccomp profile, a 512 MiB memory limit,
 * the config directory mounted read-only in a ConfigMap's layout. One container for the class;
 * the SIGTERM test ends it, so it runs last.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ImageIT {

    private DockerClient docker;
    private UpstreamStub upstream;
    private ConfigMapDir configMap;
    private GenericContainer<?> keymux;
    private int proxyPort;
    private int adminPort;
    private long startedNanos;
    private long healthyMillis = -1;
    private int readyzWhenHealthy;
    private long readyMillis = -1;

    private @Nullable String skip;

    @BeforeEach
    void assumeImage() {
        assumeTrue(skip == null, skip);
    }

    @BeforeAll
    void start(@TempDir Path temp) throws IOException {
        skip = ImageUnderTest.whyNot();
        if (skip != null) {
            return;
        }
        docker = ImageUnderTest.require();
        upstream = new UpstreamStub();
        proxyPort = ImageUnderTest.freePort();
        adminPort = ImageUnderTest.freePort();
        Path dir = Files.createDirectory(temp.resolve("config"));
        configMap = new ConfigMapDir(dir, config("sk-image-test-one"));
        keymux = new GenericContainer<>(DockerImageName.parse(ImageUnderTest.NAME))
                .withNetworkMode("host")
                .withFileSystemBind(dir.toString(), "/etc/keymux", BindMode.READ_ONLY)
                .withTmpFs(Map.of("/tmp", "rw,size=64m"))
                .withCreateContainerCmdModifier(cmd -> {
                    cmd.withUser("10001:10001");
                    cmd.getHostConfig().withReadonlyRootfs(true).withCapDrop(Capability.ALL)
                            .withSecurityOpts(List.of("no-new-privileges")).withMemory(512L << 20);
                });
        startedNanos = System.nanoTime();
        keymux.start();
        String admin = "http://127.0.0.1:" + adminPort;
        ImageUnderTest.await("/healthz 200", () -> ImageUnderTest.status(admin + "/healthz") == 200);
        healthyMillis = (System.nanoTime() - startedNanos) / 1_000_000;
        readyzWhenHealthy = ImageUnderTest.status(admin + "/readyz");
        ImageUnderTest.await("/readyz 200", () -> ImageUnderTest.status(admin + "/readyz") == 200);
        readyMillis = (System.nanoTime() - startedNanos) / 1_000_000;
        System.err.printf("[ImageIT] %s: /healthz 200 after %d ms, /readyz 200 after %d ms%n",
                ImageUnderTest.NAME, healthyMillis, readyMillis);
    }

    private String config(String apiKey) {
        return """
                server: { port: %d, admin_port: %d, bind: 127.0.0.1, allow_unauthenticated: true, drain_timeout: 30s }
                upstreams:
                  stub: { base_url: "%s", auth: bearer }
                default_upstream: stub
                default_task: chat
                tasks:
                  - name: chat
                api_keys:
                  - { key_id: k1, api_key: %s, task_types: [chat] }
                """.formatted(proxyPort, adminPort, upstream.baseUrl(), apiKey);
    }

    @AfterAll
    void stop() {
        if (keymux != null) {
            keymux.stop();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private String proxy() {
        return "http://127.0.0.1:" + proxyPort;
    }

    @Test
    @Order(1)
    void healthzAtOnceAndReadyWhileTheWarmUpRunsInTheGaps() {
        assertThat(healthyMillis).as("ms to /healthz 200").isLessThan(10_000);
        assertThat(readyzWhenHealthy).as("/readyz when /healthz first answered").isIn(200, 503);
        assertThat(readyMillis).isGreaterThanOrEqualTo(healthyMillis);
        assertThat(keymux.getLogs()).contains("keymux listening")
                .contains("warming up: ").contains("while serving, paused whenever a real request is in flight");
    }

    @Test
    @Order(2)
    void runsAsTheChartRunsIt() throws Exception {
        String status = keymux.execInContainer("cat", "/proc/1/status").getStdout();
        assertThat(status).containsPattern("(?m)^Uid:\\s+10001\\s+10001\\s+10001\\s+10001$")
                .containsPattern("(?m)^Gid:\\s+10001\\s+10001\\s+10001\\s+10001$")
                .containsPattern("(?m)^CapEff:\\s+0+$")
                .containsPattern("(?m)^CapBnd:\\s+0+$")
                .containsPattern("(?m)^NoNewPrivs:\\s+1$")
                // 2: a seccomp filter is on (the engine's default profile).
                .containsPattern("(?m)^Seccomp:\\s+2$");
        InspectContainerResponse inspect = docker.inspectContainerCmd(keymux.getContainerId()).exec();
        assertThat(inspect.getHostConfig().getReadonlyRootfs()).isTrue();
        assertThat(keymux.execInContainer("sh", "-c", "touch /app/x").getExitCode()).as("write to the root").isNotZero();
        assertThat(keymux.execInContainer("sh", "-c", "touch /etc/keymux/x").getExitCode()).as("write to the config").isNotZero();
        // The command line the image gives java: container-aware memory, exit on OOM, native memory
        // handed back when idle, the class archive.
        String cmdline = keymux.execInContainer("sh", "-c", "tr '\\0' ' ' </proc/1/cmdline").getStdout();
        assertThat(cmdline).startsWith("java ").contains("-XX:MaxRAMPercentage=").contains("-XX:+ExitOnOutOfMemoryError")
                .contains("-XX:TrimNativeHeapInterval=10000")
                .contains("-XX:SharedArchiveFile=/app/keymux.jsa").endsWith("serve --config /etc/keymux/config.yaml ");
    }

    @Test
    @Order(3)
    void logsEpollUnderTheDefaultSeccompProfile() {
        // The default profile refuses io_uring_setup, so keymux takes the next transport.
        assertThat(keymux.getLogs()).contains("network transport: epoll");
    }

    @Test
    @Order(4)
    void proxiesAChatCompletionAndAStream() throws Exception {
        HttpResponse<String> json = ImageUnderTest.chat(proxy(), false);
        assertThat(json.statusCode()).isEqualTo(200);
        assertThat(json.body()).contains(UpstreamStub.ANSWER).contains("\"total_tokens\":9");
        HttpResponse<String> sse = ImageUnderTest.chat(proxy(), true);
        assertThat(sse.statusCode()).isEqualTo(200);
        assertThat(sse.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        assertThat(sse.body()).contains("\"content\":\"hello\"").contains("\"total_tokens\":8").endsWith("data: [DONE]\n\n");
        assertThat(upstream.authorizations()).last().isEqualTo("Bearer sk-image-test-one");
    }

    @Test
    @Order(5)
    void reloadsWhenTheMountedConfigMapIsSwapped() throws Exception {
        configMap.swap(config("sk-image-test-two"));
        ImageUnderTest.await("a request sent with the swapped-in key", () -> {
            try {
                ImageUnderTest.chat(proxy(), false);
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
            return upstream.authorizations().get(upstream.authorizations().size() - 1).equals("Bearer sk-image-test-two");
        });
        assertThat(keymux.getLogs()).contains("config reloaded").doesNotContain("sk-image-test-two");
    }

    @Test
    @Order(6)
    void sigtermDuringAStreamLetsItFinishThenExitsZero() throws Exception {
        CountDownLatch held = upstream.holdStreams();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        HttpResponse<InputStream> response = ImageUnderTest.http().send(ImageUnderTest.chatRequest(proxy(), true),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
                lines.add("<end>");
            } catch (IOException e) {
                lines.add("<broken: " + e + ">");
            }
        }, "sse-reader");
        reader.setDaemon(true);
        reader.start();
        assertThat(upstream.awaitFirstChunk(30)).as("the stream's first chunk left the upstream").isTrue();
        assertThat(lines.poll(30, TimeUnit.SECONDS)).as("first SSE line at the client").contains("\"content\":\"hello\"");

        docker.killContainerCmd(keymux.getContainerId()).withSignal("TERM").exec();
        String admin = "http://127.0.0.1:" + adminPort;
        ImageUnderTest.await("/readyz 503 while draining", () -> ImageUnderTest.status(admin + "/readyz") == 503);
        assertThat(isRunning()).as("running while the stream is in flight").isTrue();
        held.countDown();

        StringBuilder rest = new StringBuilder();
        for (String line; !(line = lines.poll(30, TimeUnit.SECONDS)).equals("<end>"); ) {
            assertThat(line).doesNotStartWith("<broken");
            rest.append(line).append('\n');
        }
        assertThat(rest.toString()).contains("\" the stub\"").contains("\"total_tokens\":8").contains("data: [DONE]");
        ImageUnderTest.await("the container to exit", () -> !isRunning());
        Long exit = docker.inspectContainerCmd(keymux.getContainerId()).exec().getState().getExitCodeLong();
        assertThat(exit).as("exit code after SIGTERM").isZero();
    }

    private boolean isRunning() {
        return Boolean.TRUE.equals(docker.inspectContainerCmd(keymux.getContainerId()).exec().getState().getRunning());
    }
}
