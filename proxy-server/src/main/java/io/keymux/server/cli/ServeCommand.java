package io.keymux.server.cli;

import io.keymux.config.load.LoadResult;
import io.keymux.config.load.Problem;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.reload.ConfigSource;
import io.keymux.config.reload.ConfigWatcher;
import io.keymux.server.KeymuxServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code keymux serve --config FILE [--env-file F]...}: runs the proxy until SIGTERM or SIGINT,
 * then drains in-flight requests for {@code server.drain_timeout} and exits 0. An invalid
 * configuration prints every problem, like {@code validate}, and exits 1 without listening. While
 * serving, the config file and env files are watched and each valid change is swapped in (an
 * invalid one is logged and refused; SPEC.md section 7).
 */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        versionProvider = KeymuxMain.Version.class,
        description = "Run the proxy; SIGTERM drains in-flight requests (bounded), then exits 0.")
public final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

    @Mixin
    private KeymuxMain.ConfigOptions options = new KeymuxMain.ConfigOptions();

    @Spec
    private CommandSpec spec;

    @Option(names = "--warm-up", defaultValue = "10", paramLabel = "SECONDS",
            description = "Run synthetic exchanges through the request path for up to this many seconds (at most "
                    + WARM_UP_REQUESTS + ") while serving, whenever no real request is in flight, so the code"
                    + " clients meet gets compiled; 0 turns it off (default: ${DEFAULT-VALUE}).")
    private int warmUpSeconds = 10;

    @Option(names = "--warm-up-first",
            description = "Run the warm-up to its end before the proxy port opens (/readyz answers 503 'warming up'"
                    + " meanwhile), for a replica that gets its full share of traffic once it is ready.")
    private boolean warmUpFirst;

    /** Enough exchanges for C2 to compile the path on one CPU; the time bound usually ends it first. */
    private static final int WARM_UP_REQUESTS = 40_000;

    @Override
    public Integer call() throws InterruptedException {
        ConfigSource source = ConfigSource.of(options.config(), options.envFiles(), System.getenv(),
                Path.of("").toAbsolutePath());
        LoadResult result = source.load();
        KeymuxConfig config = result.config();
        PrintWriter err = spec.commandLine().getErr();
        if (config == null) {
            for (Problem p : result.problems()) {
                err.println(p);
            }
            err.flush();
            return 1;
        }
        for (String w : result.warnings()) {
            LOG.warn("{}", w);
        }
        if (warmUpSeconds < 0) {
            err.println("--warm-up: " + warmUpSeconds + " (expected: >= 0)");
            err.flush();
            return 1;
        }
        // Before the start: a signal during the warm-up drains and exits 0 like any other.
        ShutdownSignal signal = ShutdownSignal.install();
        KeymuxServer.Builder builder = KeymuxServer.builder(config).configSource(source);
        if (warmUpSeconds > 0) {
            builder.warmUp(WARM_UP_REQUESTS, Duration.ofSeconds(warmUpSeconds));
            if (warmUpFirst) {
                builder.warmUpBeforeListening();
            }
        }
        try (KeymuxServer server = builder.start();
                ConfigWatcher watcher = watch(source, server)) {
            LOG.info("keymux {} serving on {}:{} (admin {}), {} tasks, {} keys", KeymuxMain.version(),
                    config.server().bind(), server.proxyPort(), server.adminPort(), config.tasks().size(),
                    config.apiKeys().size());
            signal.await();
            Duration drain = server.config().server().drainTimeout();
            LOG.info("signal received: draining for up to {}", drain);
            server.drain(drain);
        }
        LOG.info("keymux stopped");
        return 0;
    }

    /** Starts the watcher; without one (no inotify left, say) keymux still serves and POST /admin/reload works. */
    private static @Nullable ConfigWatcher watch(ConfigSource source, KeymuxServer server) {
        try {
            return source.watch(ConfigWatcher.DEFAULT_DEBOUNCE, server::apply);
        } catch (IOException e) {
            LOG.warn("cannot watch the config files ({}); reload with POST /admin/reload instead", e.toString());
            return null;
        }
    }
}
