package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ValidateCommandTest {

    private static final String NL = System.lineSeparator();

    @TempDir
    Path dir;

    private CommandRun validate(Map<String, String> env, String... args) {
        return CommandRun.execute(new CommandLine(new ValidateCommand(env, dir)), args);
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    @Test
    void validConfigPrintsTheSummaryAndWarningsAndExitsZero() throws IOException {
        Path config = write("keymux.yaml", """
                upstreams:
                  vision: { base_url: https://vision.example.com }
                tasks:
                  - { name: xray, upstream: vision }
                api_keys:
                  - { key_id: a, api_key: "${KEY_A}", task_types: [chat, summarize] }
                  - { key_id: b, api_key: s, task_types: [xray] }
                  - { key_id: c, api_key: s, upstream: nvidia, task_types: ["*"] }
                """);
        CommandRun run = validate(Map.of("KEY_A", "sk-a"), "--config", config.toString());
        assertThat(run.exitCode()).isZero();
        assertThat(run.err()).isEmpty();
        assertThat(run.out()).isEqualTo("OK: 3 upstreams, 3 tasks, 3 keys, 0 clients" + NL
                + "warning: api_keys[0].task_types[0]: task 'chat' is not declared under tasks; it gets the default"
                + " task settings" + NL
                + "warning: api_keys[0].task_types[1]: task 'summarize' is not declared under tasks; it gets the"
                + " default task settings" + NL
                + "warning: no clients are configured and server.allow_unauthenticated is false: protected mode,"
                + " only loopback callers are served (add a clients entry, or set server.allow_unauthenticated:"
                + " true)" + NL
                + "warning: admin.token is not set: /admin/* answers 403" + NL);
    }

    @Test
    void invalidConfigPrintsEveryProblemToStderrAndExitsOne() throws IOException {
        Path config = write("broken.yaml", """
                tasks:
                  - { name: chat, fallback: [bakup] }
                api_keys:
                  - { key_id: k, api_key: "${NVIDIA_KEY}", task_types: [chat], max_rpm: -5 }
                """);
        CommandRun run = validate(Map.of(), "-c", config.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out()).isEmpty();
        assertThat(run.err()).startsWith(
                "api_keys[0].api_key: ${NVIDIA_KEY} is not set [at " + config + ":4]" + NL
                        + "api_keys[0].max_rpm: must be > 0 (got -5) [at " + config + ":4]" + NL
                        + "tasks[0].fallback[0]: unknown task 'bakup' [at " + config + ":2]" + NL);
    }

    @Test
    void envFilesAreRepeatableAndTheEnvironmentWins() throws IOException {
        Path config = write("keymux.json", """
                { "api_keys": [ { "key_id": "${ID}", "api_key": "${KEY}", "task_types": ["chat"] } ] }
                """);
        Path one = write("one.env", "ID=from-one\nKEY=k1\n");
        Path two = write("two.env", "ID=from-two\n");
        CommandRun run = validate(Map.of("KEY", "from-env"),
                "--config", config.toString(), "--env-file", one.toString(), "--env-file", two.toString());
        assertThat(run.exitCode()).isZero();
        CommandRun missing = validate(Map.of(), "--config", config.toString(), "--env-file", two.toString());
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).isEqualTo("api_keys[0].api_key: ${KEY} is not set [at " + config + ":1]" + NL);
    }

    @Test
    void dotEnvInTheWorkingDirectoryIsRead() throws IOException {
        write(".env", "export KEY='from dotenv'\n");
        Path config = write("keymux.yaml", "api_keys: [{ key_id: k, api_key: \"${KEY}\", task_types: [chat] }]\n");
        assertThat(validate(Map.of(), "--config", config.toString()).exitCode()).isZero();
    }

    @Test
    void missingConfigOptionIsBadUsage() {
        CommandRun run = validate(Map.of());
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Missing required option: '--config=FILE'");
    }

    @Test
    void helpDescribesTheOptions() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "validate", "--help");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("--config=FILE").contains("--env-file=FILE").contains("${VAR} interpolation");
        CommandRun version = CommandRun.execute(KeymuxMain.commandLine(), "validate", "--version");
        assertThat(version.out().strip()).isEqualTo("keymux " + KeymuxMain.version());
    }

    @Test
    void secretsNeverReachTheOutput() throws IOException {
        String secret = "sk-very-secret-0123456789";
        Path config = write("keymux.yaml", """
                tasks: [{ name: chat, upstream: "${KEY}" }]
                api_keys: [{ key_id: "${KEY}", api_key: "${KEY}", task_types: [chat], max_rpm: "${KEY}" }]
                """);
        CommandRun run = validate(Map.of("KEY", secret), "--config", config.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out() + run.err()).doesNotContain(secret);
    }
}
