package io.keymux.server.cli;

import io.keymux.server.demo.DemoRun;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code keymux demo [--seconds N] [--keep]}: the main job on a fresh machine with no API keys and no
 * network. Starts an embedded mock upstream with rate limits and injected faults, keymux itself,
 * and a traffic driver; prints the dashboard's address with this run's admin token; shows progress;
 * prints the report. Exit 0 when every request got an answer. With {@code --keep} everything stays
 * up, with a trickle of traffic, until Ctrl-C or SIGTERM, then exit 0.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        versionProvider = KeymuxMain.Version.class,
        description = "Run keymux against an embedded mock upstream with mixed traffic and injected faults,"
                + " then print allocation, failovers, cost, health and recommendations.")
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--seconds", paramLabel = "N", defaultValue = "20",
            description = "how long to drive traffic (default: ${DEFAULT-VALUE})")
    private int seconds;

    @Option(names = "--keep",
            description = "after the report, leave the mock upstream, keymux and its dashboard running with a"
                    + " trickle of traffic until Ctrl-C or SIGTERM (then exit 0)")
    private boolean keep;

    @Override
    public Integer call() {
        if (seconds < 1 || seconds > 3600) {
            System.err.println("--seconds: " + seconds + " (expected: 1..3600)");
            return 2;
        }
        DemoRun run = new DemoRun(Duration.ofSeconds(seconds), System.out, System.console() != null);
        if (!keep) {
            return run.run();
        }
        CompletableFuture<Void> stop = new CompletableFuture<>();
        // sun.misc.Signal, as serve does: a shutdown hook could not make the JVM exit 0 after SIGTERM.
        sun.misc.SignalHandler handler = signal -> stop.complete(null);
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), handler);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), handler);
        return run.run(stop);
    }
}
