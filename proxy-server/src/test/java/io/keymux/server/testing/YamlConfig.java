package io.keymux.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import io.keymux.config.model.KeymuxConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Loads a test's YAML text through the real {@link ConfigLoader}, as {@code keymux serve} would:
 * written to {@code dir/keymux.yaml}, interpolated from {@code env}, and required to load without
 * a problem.
 */
public final class YamlConfig {

    private YamlConfig() {}

    /** The configuration {@code text} describes; fails the test on any validation problem. */
    public static KeymuxConfig load(Path dir, String text, Map<String, String> env) {
        try {
            Path file = dir.resolve("keymux.yaml");
            Files.writeString(file, text);
            LoadResult result = ConfigLoader.load(file, List.of(), env, dir);
            assertThat(result.problems()).as("config problems").isEmpty();
            return result.configOrThrow();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
