package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code keymux schema} prints the repository's {@code keymux.schema.json}, byte for byte. */
class SchemaCommandTest {

    private static final Path SCHEMA = Path.of("..", "proxy-config", "src", "main", "resources", "keymux.schema.json");

    @Test
    void printsTheSchemaFileOfTheRepository() throws IOException {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "schema");
        assertThat(run.exitCode()).isZero();
        assertThat(run.err()).isEmpty();
        assertThat(run.out()).isEqualTo(Files.readString(SCHEMA, StandardCharsets.UTF_8));
        JsonNode schema = new ObjectMapper().readTree(run.out());
        assertThat(schema.path("$schema").asText()).isEqualTo("https://json-schema.org/draft/2020-12/schema");
        assertThat(schema.at("/properties/api_keys/type").asText()).isEqualTo("array");
    }

    @Test
    void isListedInTheUsage() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "--help");
        assertThat(run.out()).contains("schema").contains("JSON Schema");
    }
}
