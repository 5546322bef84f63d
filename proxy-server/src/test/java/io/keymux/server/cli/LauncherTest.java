package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/keymux}, the launcher, run for real on a copy of the repository's layout whose JVM is a
 * script that records how it was called: a start of {@code serve} trains the class archive first
 * (an AppCDS archive, or on JDK 25 and later the AOT cache), asking {@code serve} for its help or
 * version does not (that run takes ~15 s).
 */
class LauncherTest {
    @TempDir
    Path root;

    private Path calls;

    @BeforeEach
    void layout() throws IOException {
        Path bin = Files.createDirectories(root.resolve("bin"));
        Files.copy(Path.of("..", "bin", "keymux"), bin.resolve("keymux"));
        Files.createDirectories(root.resolve("proxy-server/target"));
        Files.writeString(root.resolve("proxy-server/target/keymux.jar"), "");
        calls = root.resolve("calls.log");
        Path java = Files.createDirectories(root.resolve("jdk/bin")).resolve("java");
        Files.writeString(java, "#!/usr/bin/env bash\necho \"$*\" >> '" + calls + "'\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    void serveHelpAndVersionRunNoClassArchiveTraining() throws Exception {
        for (String flag : List.of("--help", "-h", "--version")) {
            Files.deleteIfExists(calls);
            Run run = launch("serve", flag);
            assertThat(run.exitCode()).isZero();
            assertThat(run.stderr()).doesNotContain("class archive");
            assertThat(Files.readAllLines(calls)).singleElement().asString()
                    .doesNotContain("ArchiveClassesAtExit").doesNotContain("SharedArchiveFile").endsWith("serve " + flag);
        }
    }

    @Test
    void aServeStartTrainsTheArchiveFirst() throws Exception {
        Run run = launch("serve", "--config", "keymux.yaml");
        assertThat(run.exitCode()).isZero();
        assertThat(run.stderr()).contains("writing the class archive");
        List<String> lines = Files.readAllLines(calls);
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).contains("-XX:ArchiveClassesAtExit=");
        assertThat(lines.get(1)).endsWith("serve --config keymux.yaml");
    }

    @Test
    void onJdk25AServeStartTrainsAndUsesTheAotCache() throws Exception {
        Files.writeString(root.resolve("jdk/release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n");
        Run run = launch("serve", "--config", "keymux.yaml");
        assertThat(run.exitCode()).isZero();
        List<String> lines = Files.readAllLines(calls);
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).contains("-XX:AOTCacheOutput=").contains("keymux.aot.tmp")
                .doesNotContain("ArchiveClassesAtExit").contains("serve --warm-up-first");
        // The fake JVM wrote no cache, so the real start runs without one rather than naming a missing file.
        assertThat(lines.get(1)).doesNotContain("-XX:AOTCache=").endsWith("serve --config keymux.yaml");
    }

    @Test
    void aStartWithTheAotCacheInPlaceUsesItWithoutTrainingAgain() throws Exception {
        Files.writeString(root.resolve("jdk/release"), "JAVA_VERSION=\"25\"\n");
        Path cache = root.resolve("proxy-server/target/keymux.aot");
        Files.writeString(cache, "cache");
        Files.setLastModifiedTime(cache, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        Run run = launch("serve", "--config", "keymux.yaml");
        assertThat(run.exitCode()).isZero();
        assertThat(Files.readAllLines(calls)).singleElement().asString()
                .contains("-XX:AOTCache=" + cache).endsWith("serve --config keymux.yaml");
    }

    private Run launch(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("bash", root.resolve("bin/keymux").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile());
        pb.environment().put("JAVA_HOME", root.resolve("jdk").toString());
        pb.environment().remove("KEYMUX_CDS");
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), stderr);
    }

    private record Run(int exitCode, String stderr) {}
}
