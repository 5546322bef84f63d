package io.keymux.server.cli;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
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
        return new CommandLine(new KeymuxMain());
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
