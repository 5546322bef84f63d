package io.keymux.server.cli;

import io.keymux.config.load.LoadResult;
import io.keymux.config.load.Problem;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code keymux validate --config FILE [--env-file F]...}: loads and checks a configuration. On
 * success it prints {@code OK: 2 upstreams, 6 tasks, 9 keys, 2 clients} and any {@code warning:}
 * lines to stdout and exits 0; otherwise it prints every problem, one {@code path: message} per
 * line, to stderr and exits 1.
 */
@Command(
        name = "validate",
        mixinStandardHelpOptions = true,
        versionProvider = KeymuxMain.Version.class,
        description = "Load and check a configuration; print every problem with its path (exit 1 on any).")
public final class ValidateCommand implements Callable<Integer> {

    @Mixin
    private KeymuxMain.ConfigOptions options = new KeymuxMain.ConfigOptions();

    @Spec
    private CommandSpec spec;

    private final Map<String, String> environment;
    private final Path workingDir;

    /** Reads the process environment and {@code .env} in the current directory. */
    public ValidateCommand() {
        this(System.getenv(), Path.of("").toAbsolutePath());
    }

    /** For tests: a controlled environment and working directory. */
    ValidateCommand(Map<String, String> environment, Path workingDir) {
        this.environment = Map.copyOf(environment);
        this.workingDir = workingDir;
    }

    @Override
    public Integer call() {
        LoadResult result = options.load(environment, workingDir);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        KeymuxConfig config = result.config();
        if (config == null) {
            for (Problem p : result.problems()) {
                err.println(p);
            }
            for (String w : result.warnings()) {
                err.println("warning: " + w);
            }
            err.flush();
            return 1;
        }
        out.println("OK: " + summary(config));
        for (String w : result.warnings()) {
            out.println("warning: " + w);
        }
        out.flush();
        return 0;
    }

    /**
     * {@code 2 upstreams, 6 tasks, 9 keys, 2 clients}. Upstreams counts those in use (by a key or a
     * task), not the built-in presets nobody references. The nouns stay plural ({@code 1 upstreams})
     * so scripts can match one fixed format.
     */
    public static String summary(KeymuxConfig config) {
        Set<String> upstreams = new LinkedHashSet<>();
        for (ApiKeyConfig k : config.apiKeys()) {
            upstreams.add(k.upstream());
        }
        for (TaskConfig t : config.tasks()) {
            if (t.upstream() != null) {
                upstreams.add(t.upstream());
            }
        }
        return count(upstreams.size(), "upstream") + ", " + count(config.tasks().size(), "task") + ", "
                + count(config.apiKeys().size(), "key") + ", " + count(config.clients().size(), "client");
    }

    private static String count(int n, String noun) {
        return n + " " + noun + "s";
    }
}
