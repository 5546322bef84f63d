package io.keymux.config.reload;

import static java.util.Objects.requireNonNull;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Where a configuration comes from, so it can be loaded again on a reload: the config file, the
 * {@code --env-file} files in command-line order, the process environment and the working directory
 * (for {@code .env}). Paths are kept absolute, so a later load does not depend on the current
 * directory.
 *
 * <pre>{@code
 * ConfigSource source = ConfigSource.of(Path.of("keymux.yaml"), List.of(), System.getenv(), Path.of(""));
 * LoadResult first = source.load();
 * try (ConfigWatcher watcher = source.watch(ConfigWatcher.DEFAULT_DEBOUNCE, server::apply)) { ... }
 * }</pre>
 *
 * <p>{@code toString()} lists the files only: the environment may hold secrets.
 */
public record ConfigSource(Path configFile, List<Path> envFiles, Map<String, String> environment, Path workingDir) {

    public ConfigSource {
        configFile = requireNonNull(configFile, "configFile").toAbsolutePath().normalize();
        envFiles = requireNonNull(envFiles, "envFiles").stream().map(p -> p.toAbsolutePath().normalize()).toList();
        environment = Map.copyOf(requireNonNull(environment, "environment"));
        workingDir = requireNonNull(workingDir, "workingDir").toAbsolutePath().normalize();
    }

    /** A source; the environment map is copied. */
    public static ConfigSource of(Path configFile, List<Path> envFiles, Map<String, String> environment,
            Path workingDir) {
        return new ConfigSource(configFile, envFiles, environment, workingDir);
    }

    /** Loads and validates the files as they are now (blocking file IO: not on an event loop). */
    public LoadResult load() {
        return ConfigLoader.load(configFile, envFiles, environment, workingDir);
    }

    /**
     * Watches the files and calls {@code listener} with each reload whose inputs really changed; the
     * contents at this moment are the baseline.
     */
    public ConfigWatcher watch(Duration debounce, ConfigWatcher.Listener listener) throws IOException {
        return ConfigWatcher.start(configFile, envFiles, environment, workingDir, debounce, listener);
    }

    @Override
    public String toString() {
        return "ConfigSource[configFile=" + configFile + ", envFiles=" + envFiles + ", workingDir=" + workingDir + "]";
    }
}
