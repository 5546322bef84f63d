package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.server.testing.UpstreamStub;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real {@code keymux serve} process (its own JVM) and a SIGTERM that arrives during its warm-up. */
class ServeSignalTest {
    private static final long WAIT_SECONDS = 60;

    @TempDir
    Path dir;

    private final UpstreamStub stub = new UpstreamStub();
    private Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> output = new java.util.concurrent.CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(WAIT_SECONDS, TimeUnit.SECONDS);
        }
        stub.close();
    }

    @Test
    void sigtermDuringTheWarmUpDrainsAndExitsZero() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), """
                server: { port: 0, admin_port: 0, bind: 127.0.0.1, drain_timeout: 1s, allow_unauthenticated: true }
                upstreams:
                  stub: { base_url: "%s", auth: bearer }
                default_upstream: stub
                default_task: chat
                api_keys:
                  - { key_id: k, api_key: sk-signal-test, task_types: [chat] }
                """.formatted(stub.baseUrl()));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(List.of(java, "-Dlogback.configurationFile=logback.xml", "-cp",
                System.getProperty("java.class.path"), "io.keymux.server.cli.KeymuxMain", "serve", "--warm-up", "5",
                "--config", config.toString()))
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                    output.add(line);
                }
            } catch (java.io.IOException ended) {
                // The process is gone.
            }
        }, "serve-output");
        reader.setDaemon(true);
        reader.start();

        awaitLine("warming up: ");
        process.destroy(); // SIGTERM, while the warm-up runs

        assertThat(process.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("exit status; output: %s", output).isZero();
        reader.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
        assertThat(String.join("\n", output)).doesNotContain("sk-signal-test");
    }

    private void awaitLine(String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (line != null && line.contains(text)) {
                return;
            }
        }
        throw new AssertionError("no output line containing '" + text + "' within " + WAIT_SECONDS + " s");
    }
}
