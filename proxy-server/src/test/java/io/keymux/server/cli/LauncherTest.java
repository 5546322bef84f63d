package io.keymux.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/keymux}, the launcher, run for real on a copy of the repository's layout whose JVM is a
 * script that records how it was called: a start of {@code serve} trains the class archive first
 * (an AppCDS archive, or on JDK 25 and later the AOT cache), asking {@code serve} for its help or
 * version does not (that run takes ~15 s); {@code serve} gets the memory defaults where the JVM
 * takes them, before the operator's {@code JAVA_OPTS}.
 */
class LauncherTest {
    private static final String TRIM = "-XX:TrimNativeHeapInterval=10000";
    /** The fake JVM writes no archive, so each start would train again; these tests are not about it. */
    private static final Map<String, String> NO_ARCHIVE = Map.of("KEYMUX_CDS", "off");

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
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).contains("-XX:ArchiveClassesAtExit=");
        assertThat(lines.get(1)).isEqualTo(TRIM + " -version");
        assertThat(lines.get(2)).startsWith(TRIM + " ").endsWith("serve --config keymux.yaml");
    }

    @Test
    void anOperatorsJavaOptsComeAfterTheMemoryDefaultsAndTheJvmIsAskedOnce() throws Exception {
        Map<String, String> env = Map.of("JAVA_OPTS", "-XX:TrimNativeHeapInterval=0 -Xmx200m", "KEYMUX_CDS", "off");
        launch(env, "serve", "--config", "keymux.yaml");
        Files.deleteIfExists(calls);
        launch(env, "serve", "--config", "keymux.yaml");
        // The later flag wins in HotSpot, so the operator's 0 turns the trimming off.
        assertThat(Files.readAllLines(calls)).singleElement().asString()
                .startsWith(TRIM + " -XX:TrimNativeHeapInterval=0 -Xmx200m ");
    }

    @Test
    void aJvmWithoutTheTrimFlagServesWithoutIt() throws Exception {
        // A JDK 17 before 17.0.9: it refuses -XX:TrimNativeHeapInterval and would not start with it.
        Files.writeString(root.resolve("jdk/bin/java"), "#!/usr/bin/env bash\necho \"$*\" >> '" + calls + "'\n"
                + "case \"$*\" in *TrimNativeHeapInterval*) exit 1 ;; esac\n");
        Run run = launch(NO_ARCHIVE, "serve", "--config", "keymux.yaml");
        assertThat(run.exitCode()).isZero();
        assertThat(Files.readAllLines(calls)).last().asString()
                .doesNotContain("TrimNativeHeapInterval").endsWith("serve --config keymux.yaml");
        Files.deleteIfExists(calls);
        launch(NO_ARCHIVE, "serve", "--config", "keymux.yaml");
        assertThat(Files.readAllLines(calls)).singleElement().asString().doesNotContain("TrimNativeHeapInterval");
    }

    @Test
    void otherCommandsGetNoMemoryDefaults() throws Exception {
        launch(Map.of(), "validate", "--config", "keymux.yaml");
        assertThat(Files.readAllLines(calls)).singleElement().asString()
                .isEqualTo("-jar " + root.resolve("proxy-server/target/keymux.jar") + " validate --config keymux.yaml");
    }

    @Test
    void onJdk25AServeStartTrainsAndUsesTheAotCache() throws Exception {
        Files.writeString(root.resolve("jdk/release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n");
        Run run = launch("serve", "--config", "keymux.yaml");
        assertThat(run.exitCode()).isZero();
        List<String> lines = Files.readAllLines(calls);
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).contains("-XX:AOTCacheOutput=").contains("keymux.aot.tmp")
                .doesNotContain("ArchiveClassesAtExit").contains("serve --warm-up-first");
        assertThat(lines.get(1)).isEqualTo(TRIM + " -version");
        // The fake JVM wrote no cache, so the real start runs without one rather than naming a missing file.
        assertThat(lines.get(2)).doesNotContain("-XX:AOTCache=").endsWith("serve --config keymux.yaml");
    }

    @Test
    void aStartWithTheAotCacheInPlaceUsesItWithoutTrainingAgain() throws Exception {
        Files.writeString(root.resolve("jdk/release"), "JAVA_VERSION=\"25\"\n");
        Path cache = root.resolve("proxy-server/target/keymux.aot");
        Files.writeString(cache, "cache");
        Files.setLastModifiedTime(cache, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        Run run = launch("serve", "--config", "keymux.yaml");
        assertThat(run.exitCode()).isZero();
        List<String> lines = Files.readAllLines(calls);
        assertThat(lines).noneMatch(line -> line.contains("AOTCacheOutput"));
        assertThat(lines.get(lines.size() - 1)).contains("-XX:AOTCache=" + cache).endsWith("serve --config keymux.yaml");
    }

    private Run launch(String... args) throws Exception {
        return launch(Map.of(), args);
    }

    private Run launch(Map<String, String> env, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("bash", root.resolve("bin/keymux").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile());
        pb.environment().put("JAVA_HOME", root.resolve("jdk").toString());
        pb.environment().remove("KEYMUX_CDS");
        pb.environment().remove("JAVA_OPTS");
        pb.environment().putAll(env);
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), stderr);
    }

    private record Run(int exitCode, String stderr) {}
}
