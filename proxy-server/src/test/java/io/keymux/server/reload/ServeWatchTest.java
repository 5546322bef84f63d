package io.keymux.server.reload;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.UpstreamStub;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * {@code keymux serve} as a user runs it (a separate JVM): it watches its config file and swaps in
 * an edited one (a rotated key), then exits 0 on SIGTERM.
 */
class ServeWatchTest {
    private static final long WAIT_SECONDS = 30;
    private static final Pattern LISTENING = Pattern.compile("keymux listening: proxy on port (\\d+)");

    @TempDir
    Path dir;

    private UpstreamStub stub;
    private Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    @BeforeEach
    void startStub() {
        stub = new UpstreamStub();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(WAIT_SECONDS, TimeUnit.SECONDS);
        }
        stub.close();
    }

    private String yaml(String secret) {
        return """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1, drain_timeout: 1s }
                upstreams:
                  stub: { base_url: "%s", auth: bearer }
                default_upstream: stub
                default_task: chat
                api_keys:
                  - { key_id: rotating, api_key: "%s", task_types: [chat] }
                clients:
                  - { name: app, key: "%s" }
                """.formatted(stub.baseUrl(), secret, TestConfigs.CLIENT_KEY);
    }

    /** The first output line matching, waiting (bounded) for it. */
    private Matcher awaitLine(Pattern pattern) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (line == null) {
                break;
            }
            Matcher m = pattern.matcher(line);
            if (m.find()) {
                return m;
            }
        }
        throw new AssertionError("no output line matching " + pattern + " within " + WAIT_SECONDS + " s; "
                + "unread output: " + lines);
    }

    private String keySeenUpstream(int port) {
        Integer status = HttpClient.create().baseUrl("http://127.0.0.1:" + port)
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send((req, out) -> out.sendString(Mono.just(
                        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")))
                .responseSingle((res, body) -> body.then(Mono.just(res.status().code())))
                .block(java.time.Duration.ofSeconds(WAIT_SECONDS));
        assertThat(status).isEqualTo(200);
        return stub.last().headers().get("Authorization");
    }

    @Test
    void serveSwapsInAnEditedConfigAndExitsZeroOnSigterm() throws Exception {
        Path file = Files.writeString(dir.resolve("keymux.yaml"), yaml("sk-serve-old"));
        serve(file, Map.of());

        int port = Integer.parseInt(awaitLine(LISTENING).group(1));
        assertThat(keySeenUpstream(port)).isEqualTo("Bearer sk-serve-old");

        Files.writeString(file, yaml("sk-serve-new"));
        awaitLine(Pattern.compile("config reloaded: "));
        assertThat(keySeenUpstream(port)).isEqualTo("Bearer sk-serve-new");

        process.destroy(); // SIGTERM
        assertThat(process.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).isZero();
    }

    /** The README's "run it for real" step: the shipped quickstart example starts and answers /healthz. */
    @Test
    void quickstartExampleServesHealthz() throws Exception {
        Path quickstart = Path.of("../examples/quickstart.yaml").toAbsolutePath().normalize();
        serve(quickstart, Map.of("KEYMUX_PORT", "0", "KEYMUX_ADMIN_PORT", "0"));

        Matcher ports = awaitLine(Pattern.compile("keymux listening: proxy on port (\\d+), admin on port (\\d+)"));
        int admin = Integer.parseInt(ports.group(2));
        String healthz = HttpClient.create().get().uri("http://127.0.0.1:" + admin + "/healthz")
                .responseSingle((res, body) -> Mono.just(res.status().code() + ""))
                .block(java.time.Duration.ofSeconds(WAIT_SECONDS));
        assertThat(healthz).isEqualTo("200");

        process.destroy(); // SIGTERM
        assertThat(process.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).isZero();
    }

    /** Runs {@code keymux serve --config FILE} in its own JVM, its output collected into {@link #lines}. */
    private void serve(Path config, Map<String, String> env) throws java.io.IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The production logging config (INFO on stderr), not the tests' warnings-only one. No warm-up:
        // these tests are about watching and signals, and a busy machine would stretch it (WarmUpTest covers it).
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-Dlogback.configurationFile=logback.xml",
                "-cp", System.getProperty("java.class.path"), "io.keymux.server.cli.KeymuxMain", "serve",
                "--warm-up", "0", "--config", config.toString()))
                .directory(dir.toFile())
                .redirectErrorStream(true);
        builder.environment().putAll(env);
        process = builder.start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (java.io.IOException closed) {
                // the process ended
            }
        }, "serve-output");
        reader.setDaemon(true);
        reader.start();
    }
}
