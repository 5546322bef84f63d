package io.keymux.server.cli;

import io.keymux.config.load.LoadResult;
import io.keymux.config.load.Problem;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.server.KeymuxServer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code keymux serve --config FILE [--env-file F]...}: runs the proxy until SIGTERM or SIGINT,
 * then drains in-flight requests for {@code server.drain_timeout} and exits 0. An invalid
 * configuration prints every problem, like {@code validate}, and exits 1 without listening.
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

    @Override
    public Integer call() throws InterruptedException {
        LoadResult result = options.load(System.getenv(), Path.of("").toAbsolutePath());
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
        try (KeymuxServer server = KeymuxServer.start(config)) {
            LOG.info("keymux {} serving on {}:{} (admin {}), {} tasks, {} keys", KeymuxMain.version(),
                    config.server().bind(), server.proxyPort(), server.adminPort(), config.tasks().size(),
                    config.apiKeys().size());
            server.awaitShutdownOnSignal();
        }
        LOG.info("keymux stopped");
        return 0;
    }
}
