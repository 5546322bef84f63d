package io.keymux.core.select;

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

/** Test configurations written as YAML and read by the real loader (for fields the builders lack). */
final class YamlConfigs {
    private YamlConfigs() {}

    static KeymuxConfig load(String yaml) {
        try {
            Path dir = Files.createTempDirectory("keymux-core-test");
            Path file = dir.resolve("keymux.yaml");
            Files.writeString(file, "server: { allow_unauthenticated: true }\n" + yaml);
            LoadResult result = ConfigLoader.load(file, List.of(), Map.of(), dir);
            assertThat(result.problems()).as("config problems").isEmpty();
            Files.delete(file);
            Files.delete(dir);
            return result.configOrThrow();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
