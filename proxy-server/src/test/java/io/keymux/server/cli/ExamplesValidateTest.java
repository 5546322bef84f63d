package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * Every file in {@code examples/} validates: the YAML examples with no variable set (their
 * {@code ${VAR:-placeholder}} defaults), the seed-format JSON with the example env file.
 */
class ExamplesValidateTest {

    /** The repository's examples directory; surefire runs in the module directory. */
    private static final Path EXAMPLES = Path.of("..", "examples");
    private static final Path SEED = EXAMPLES.resolve("neurodx-api-keys.json");
    private static final Path SEED_ENV = EXAMPLES.resolve(".env.api_keys.example");

    /** An empty working directory, so a developer's own .env cannot make an example pass. */
    @TempDir
    Path workingDir;

    static List<Path> configs() throws IOException {
        try (Stream<Path> files = Files.list(EXAMPLES)) {
            List<Path> configs = files.filter(ExamplesValidateTest::isConfig).sorted().toList();
            assertThat(configs).hasSizeGreaterThanOrEqualTo(6);
            return configs;
        }
    }

    private static boolean isConfig(Path p) {
        String name = p.getFileName().toString();
        return name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json");
    }

    @Test
    void everyFileInExamplesIsAConfigOrTheSeedEnvFile() throws IOException {
        try (Stream<Path> files = Files.list(EXAMPLES)) {
            assertThat(files.filter(p -> !isConfig(p))).containsExactly(SEED_ENV);
        }
    }

    @ParameterizedTest
    @MethodSource("configs")
    void exampleValidates(Path config) {
        String[] args = config.equals(SEED)
                ? new String[] {"--config", config.toString(), "--env-file", SEED_ENV.toString()}
                : new String[] {"--config", config.toString()};
        CommandRun run = CommandRun.execute(new CommandLine(new ValidateCommand(Map.of(), workingDir)), args);
        assertThat(run.err()).isEmpty();
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).startsWith("OK: ");
    }

    @Test
    void seedFileDerivesItsSixTasksAndNeedsItsVariables() {
        CommandRun run = CommandRun.execute(new CommandLine(new ValidateCommand(Map.of(), workingDir)),
                "--config", SEED.toString(), "--env-file", SEED_ENV.toString());
        assertThat(run.out()).startsWith("OK: 1 upstreams, 6 tasks, 6 keys, 0 clients");

        CommandRun bare = CommandRun.execute(new CommandLine(new ValidateCommand(Map.of(), workingDir)),
                "--config", SEED.toString());
        assertThat(bare.exitCode()).isEqualTo(1);
        assertThat(bare.err()).contains("api_keys[0].api_key: ${NVIDIA_API_KEY_MEDICAL_TEXT} is not set")
                .contains("api_keys[5].api_key: ${NVIDIA_API_KEY_BACKUP} is not set");
    }
}
