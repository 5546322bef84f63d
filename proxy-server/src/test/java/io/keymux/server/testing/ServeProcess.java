package io.keymux.server.testing;

import io.keymux.config.testing.Await;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One real {@code keymux serve} JVM on this test's class path, for tests whose subject is several
 * replicas or a restart: its output kept line by line, its ports read from its "listening" line.
 */
public final class ServeProcess implements AutoCloseable {
    /** How long a replica may take to start, and any bounded wait of these tests. */
    public static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Pattern LISTENING = Pattern.compile("keymux listening: proxy on port (\\d+), admin on port (\\d+)");

    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final int proxyPort;
    private final int adminPort;

    private ServeProcess(Process process) {
        this.process = process;
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException closed) {
                // the process ended
            }
        }, "serve-" + process.pid() + "-output");
        reader.setDaemon(true);
        reader.start();
        Matcher[] found = new Matcher[1];
        await("the listening line of keymux serve", () -> {
            for (String line : lines) {
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    found[0] = m;
                    return true;
                }
            }
            return !process.isAlive();
        });
        if (found[0] == null) {
            throw new AssertionError("keymux serve exited: " + String.join("\n", lines));
        }
        this.proxyPort = Integer.parseInt(found[0].group(1));
        this.adminPort = Integer.parseInt(found[0].group(2));
    }

    /** Starts {@code keymux serve --config config} in {@code dir} as pod {@code name} and waits until it listens. */
    public static ServeProcess start(Path config, Path dir, String name) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=logback.xml", "-cp", System.getProperty("java.class.path"),
                "io.keymux.server.cli.KeymuxMain", "serve", "--config", config.toString()))
                .directory(dir.toFile()).redirectErrorStream(true);
        builder.environment().put("POD_NAME", name);
        return new ServeProcess(builder.start());
    }

    public String proxyUrl() {
        return "http://127.0.0.1:" + proxyPort;
    }

    public String adminUrl() {
        return "http://127.0.0.1:" + adminPort;
    }

    /** The output so far. */
    public List<String> lines() {
        return List.copyOf(lines);
    }

    /** Stops it (SIGTERM, then SIGKILL after 20 s). */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** A port nothing listens on now. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * Polls {@code condition} every 100 ms for at most {@link #WAIT}: the conditions here read a
     * replica's output or ask its admin port, too dear for {@link Await}'s default 10 ms.
     */
    public static void await(String what, BooleanSupplier condition) {
        Await.until(what, condition, WAIT, POLL);
    }
}
