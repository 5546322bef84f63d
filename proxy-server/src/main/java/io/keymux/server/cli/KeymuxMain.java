package io.keymux.server.cli;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code keymux} command: the jar's main class. Subcommands are listed in {@code subcommands}
 * below; adding one is adding its class there. The process exits with the subcommand's exit code
 * (0 success, 1 failure, 2 bad usage).
 *
 * <pre>{@code
 * keymux validate --config keymux.yaml --env-file .env.prod
 * keymux --version
 * }</pre>
 */
@Command(
        name = "keymux",
        mixinStandardHelpOptions = true,
        versionProvider = KeymuxMain.Version.class,
        description = "Reverse proxy that spreads LLM API traffic over pools of keys per task.",
        subcommands = {
            ValidateCommand.class,
            SchemaCommand.class,
            ServeCommand.class,
            DemoCommand.class,
            ProbeCommand.class,
        })
public final class KeymuxMain implements Callable<Integer> {

    /** Exit code for a command line picocli could not parse, and for no subcommand at all. */
    public static final int USAGE = CommandLine.ExitCode.USAGE;

    @Spec
    private CommandSpec spec;

    /** Without a subcommand there is nothing to do: print the usage and fail as bad usage. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    /** The configured command line; tests call {@code execute} on it with their own out and err. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new KeymuxMain());
        cl.setParameterExceptionHandler(KeymuxMain::badUsage);
        return cl;
    }

    /**
     * picocli checks required options before it reports unmatched ones, so {@code validate --confg
     * x} would say "Missing required option: '--config'" and hide the typo. An option the command
     * does not know is the first thing to name, with the options it does know that it resembles.
     */
    static int badUsage(CommandLine.ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        List<String> unknown = unknownOptions(cl.getCommandSpec(), args);
        if (ex instanceof CommandLine.UnmatchedArgumentException || unknown.isEmpty()) {
            err.println(ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
        } else {
            err.println("Unknown option" + (unknown.size() == 1 ? "" : "s") + ": "
                    + String.join(", ", unknown.stream().map(o -> "'" + o + "'").toList()));
            List<String> known = cl.getCommandSpec().options().stream()
                    .flatMap(o -> Arrays.stream(o.names()))
                    .filter(n -> n.startsWith("--"))
                    .toList();
            List<String> close = known.stream()
                    .filter(n -> unknown.stream().anyMatch(u -> resembles(u, n)))
                    .toList();
            if (!close.isEmpty()) {
                err.println("Did you mean: " + String.join(", ", close) + "?");
            }
        }
        cl.usage(err);
        err.flush();
        return USAGE;
    }

    /** The {@code -x}/{@code --xyz} words of {@code args} after the command's name that it has no option for. */
    private static List<String> unknownOptions(CommandSpec command, String[] args) {
        List<String> unknown = new ArrayList<>();
        boolean inCommand = command.parent() == null;
        for (String arg : args) {
            if (!inCommand) {
                inCommand = arg.equals(command.name());
                continue;
            }
            if (arg.equals("--")) {
                break;
            }
            if (arg.startsWith("-") && arg.length() > 1) {
                String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
                if (command.findOption(name) == null && !(name.length() > 2 && !name.startsWith("--")
                        && command.findOption(name.substring(0, 2)) != null)) {
                    unknown.add(name);
                }
            }
        }
        return unknown;
    }

    /** Whether a mistyped option is one edit (or a swap) away from a real one. */
    private static boolean resembles(String typed, String real) {
        return editDistance(typed, real) <= 2;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** {@code keymux <version>}, the version coming from the Maven build (a filtered resource). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"keymux " + version()};
        }
    }

    /** The project version this jar was built from. */
    public static String version() {
        Properties p = new Properties();
        try (InputStream in = KeymuxMain.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                throw new IllegalStateException("version.properties is missing from the jar");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p.getProperty("version", "unknown");
    }

    /**
     * The options every command that reads a configuration shares; use it as a picocli
     * {@code @Mixin} so {@code validate} and {@code serve} spell them the same way.
     */
    public static final class ConfigOptions {
        @Option(
                names = {"-c", "--config"},
                required = true,
                paramLabel = "FILE",
                description = "configuration file (.yaml, .yml or .json)")
        private Path config;

        @Option(
                names = "--env-file",
                paramLabel = "FILE",
                description = "extra KEY=VALUE file for $${VAR} interpolation; repeatable, later files win,"
                        + " the real environment wins over files")
        private List<Path> envFiles = new ArrayList<>();

        /** The {@code --config} file. */
        public Path config() {
            return config;
        }

        /** The {@code --env-file} files in command-line order. */
        public List<Path> envFiles() {
            return List.copyOf(envFiles);
        }

        /** Loads the configuration with these options; {@code .env} is read from {@code workingDir}. */
        public LoadResult load(Map<String, String> environment, Path workingDir) {
            return ConfigLoader.load(config, envFiles, environment, workingDir);
        }
    }
}
