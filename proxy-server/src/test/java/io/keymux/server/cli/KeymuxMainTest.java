package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KeymuxMainTest {

    @Test
    void versionPrintsTheBuildVersion() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "--version");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).matches("keymux \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\\R");
        assertThat(run.out().strip()).isEqualTo("keymux " + KeymuxMain.version());
    }

    @Test
    void helpListsTheSubcommands() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "--help");
        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("Usage: keymux").contains("validate").contains("--version");
    }

    @Test
    void noSubcommandPrintsUsageAndFailsAsBadUsage() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine());
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Usage: keymux");
    }

    @Test
    void unknownOptionOrCommandIsBadUsage() {
        assertThat(CommandRun.execute(KeymuxMain.commandLine(), "--frobnicate").exitCode()).isEqualTo(2);
        assertThat(CommandRun.execute(KeymuxMain.commandLine(), "frobnicate").exitCode()).isEqualTo(2);
    }

    @Test
    void aMistypedOptionIsNamedBeforeTheRequiredOneItHides() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "validate", "--confg", "keymux.yaml");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).startsWith("Unknown option: '--confg'" + System.lineSeparator()
                + "Did you mean: --config?" + System.lineSeparator()
                + "Usage: keymux validate");
        assertThat(run.err()).doesNotContain("Missing required option");
        // With nothing mistyped, a missing required option is still said as such.
        assertThat(CommandRun.execute(KeymuxMain.commandLine(), "serve").err())
                .startsWith("Missing required option: '--config=FILE'");
    }

    @Test
    void validateIsRegisteredAndExitsWithItsCode() {
        CommandRun run = CommandRun.execute(KeymuxMain.commandLine(), "validate", "--config", "does-not-exist.yaml");
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).isEqualTo("does-not-exist.yaml: config file not found" + System.lineSeparator());
    }
}
