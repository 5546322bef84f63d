package io.keymux.server.cli;

import io.keymux.server.demo.DemoRun;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code keymux demo [--seconds N]}: the main job on a fresh machine with no API keys and no
 * network. Starts an embedded mock upstream with rate limits and injected faults, keymux itself,
 * and a traffic driver; shows progress; prints the report. Exit 0 when every request got an answer.
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

    @Override
    public Integer call() {
        if (seconds < 1 || seconds > 3600) {
            System.err.println("--seconds: " + seconds + " (expected: 1..3600)");
            return 2;
        }
        return new DemoRun(Duration.ofSeconds(seconds), System.out, System.console() != null).run();
    }
}
