package io.keymux.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/** The README's first command, shortened: the demo runs through the real server and answers everything. */
class DemoRunTest {
    private static final Pattern DASHBOARD =
            Pattern.compile("dashboard: http://127\\.0\\.0\\.1:(\\d+)/#token=(demo-admin-[0-9a-f]+)");
    private static final Pattern KEPT = Pattern.compile("Still running \\(--keep\\): dashboard "
            + "http://127\\.0\\.0\\.1:(\\d+)/#token=(demo-admin-[0-9a-f]+)");
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void shortDemoAnswersEveryRequestAndPrintsTheReport() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

        int exit = new DemoRun(Duration.ofSeconds(4), out, false).run();

        String report = bytes.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(report).isZero();
        assertThat(report)
                .containsPattern(DASHBOARD)
                .contains("Allocation: requests per task and key")
                .contains("Failovers by reason")
                .contains("Keys that left the active state, and why")
                .contains("Queue wait by task priority")
                .contains("Keys: state, tokens and cost")
                .contains("Tasks: tokens and cost")
                .contains("Cache: repeated requests answered once")
                // chat and scheduling cache; a third of their traffic repeats a common question.
                .containsPattern("(?m)^\\W*chat\\W+[1-9]\\d*\\W+\\d+\\W+[1-9]\\d*\\W+\\d+\\W+\\$?0\\.\\d*[1-9]")
                // chat's long system prompt repeats: the mock's per-key prompt cache serves part of it.
                .contains("Provider prompt cache: input tokens the upstream served from its cache")
                .containsPattern("Provider prompt cache: [1-9]\\d*\\.\\d% of all \\d+ input tokens served from cache,"
                        + " saving 0\\.\\d*[1-9]\\d* USD")
                .contains("Recommendations (optimization score")
                .containsPattern("(\\d+) of \\1 requests answered: \\d+ by an upstream, \\d+ by a deliberate keymux"
                        + " error, 0 lost")
                .contains("OK: every request got an answer")
                .doesNotContain("Still running");
        // The address comes first, before the progress and the report.
        assertThat(report.indexOf("dashboard: ")).isLessThan(report.indexOf("answered "));
    }

    @Test
    void keepLeavesTheDashboardAndATrickleOfTrafficRunningUntilStopped() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        CompletableFuture<Void> stop = new CompletableFuture<>();

        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
                () -> new DemoRun(Duration.ofSeconds(2), out, false).run(stop));

        Matcher kept = await(() -> KEPT.matcher(bytes.toString(StandardCharsets.UTF_8)), Matcher::find,
                "the demo says it keeps running");
        int adminPort = Integer.parseInt(kept.group(1));
        String token = kept.group(2);
        // The dashboard's token from the address opens the admin API; traffic still flows.
        long before = clientRequests(adminPort, token);
        long after = await(() -> clientRequests(adminPort, token), n -> n > before, "more traffic after the report");
        assertThat(after).isGreaterThan(before);
        assertThat(status(adminPort, "/")).isEqualTo(200);
        assertThat(exit).isNotDone();

        stop.complete(null);

        assertThat(exit.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isZero();
        assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("OK: every request got an answer").endsWith(
                "stopped" + System.lineSeparator());
    }

    @Test
    void keepStopsOnSigtermWithExitZero() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                "io.keymux.server.cli.KeymuxMain", "demo", "--seconds", "2", "--keep"))
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException closed) {
                // the process ended
            }
        }, "demo-output");
        reader.setDaemon(true);
        reader.start();
        try {
            long deadline = System.nanoTime() + WAIT.toNanos();
            String line = "";
            boolean sawDashboard = false;
            while (!KEPT.matcher(line).find()) {
                String next = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                assertThat(next).as("the demo's output before 'Still running'").isNotNull();
                line = next;
                sawDashboard |= DASHBOARD.matcher(line).find();
            }
            assertThat(sawDashboard).as("the dashboard address at the start").isTrue();

            process.destroy(); // SIGTERM

            assertThat(process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).isZero();
        } finally {
            process.destroyForcibly();
        }
    }

    private static long clientRequests(int adminPort, String token) {
        String body = HttpClient.create()
                .headers(h -> h.set("Authorization", "Bearer " + token))
                .get().uri("http://127.0.0.1:" + adminPort + "/admin/metrics")
                .responseSingle((res, content) -> {
                    assertThat(res.status().code()).isEqualTo(200);
                    return content.asString(StandardCharsets.UTF_8);
                })
                .block(WAIT);
        try {
            JsonNode metrics = JSON.readTree(body);
            return metrics.get("total_requests").asLong();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static int status(int adminPort, String path) {
        Integer status = HttpClient.create().get().uri("http://127.0.0.1:" + adminPort + path)
                .responseSingle((res, body) -> body.then(Mono.just(res.status().code())))
                .block(WAIT);
        return status == null ? 0 : status;
    }

    /** Polls {@code value} until {@code done} holds, with a deadline and a short pause between polls. */
    private static <T> T await(Supplier<T> value, java.util.function.Predicate<T> done, String what) {
        java.util.concurrent.atomic.AtomicReference<T> last = new java.util.concurrent.atomic.AtomicReference<>();
        io.keymux.config.testing.Await.until(what, () -> {
            last.set(value.get());
            return done.test(last.get());
        }, WAIT);
        return last.get();
    }
}
