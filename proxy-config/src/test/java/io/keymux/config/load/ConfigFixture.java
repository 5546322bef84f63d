package io.keymux.config.load;

import io.keymux.config.testing.TestConfigs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes config and env files into a test's temporary directory and loads them, for the loader's own
 * tests: they look at the problems, so this hands back the whole {@link LoadResult}. A YAML document
 * alone goes through {@link TestConfigs#loadResult}, the path other modules' tests load YAML by.
 */
final class ConfigFixture {
    private final Path dir;

    ConfigFixture(Path dir) {
        this.dir = dir;
    }

    Path write(String name, String content) {
        try {
            Path file = dir.resolve(name);
            Files.createDirectories(file.getParent());
            Files.writeString(file, content, StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    LoadResult yaml(String content) {
        return yaml(content, Map.of());
    }

    LoadResult yaml(String content, Map<String, String> env) {
        return TestConfigs.loadResult(dir, content, env);
    }

    LoadResult load(Path file, List<Path> envFiles, Map<String, String> env) {
        return ConfigLoader.load(file, envFiles, env, dir);
    }

    /** The problems of a YAML document, as {@code path: message} lines. */
    List<String> problems(String content) {
        return yaml(content).problems().stream().map(ConfigFixture::pathAndMessage).toList();
    }

    /** {@code path: message}, without the {@code [at file:line]} that depends on the temp file's name. */
    static String pathAndMessage(Problem p) {
        return p.path() + ": " + p.message();
    }
}
