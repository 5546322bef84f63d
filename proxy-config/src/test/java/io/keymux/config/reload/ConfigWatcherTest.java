package io.keymux.config.reload;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.load.LoadResult;
import io.keymux.config.load.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigWatcherTest {

    /** Generous: inotify delivers in milliseconds, but CI machines are shared. */
    private static final long WAIT_SECONDS = 20;

    @TempDir
    Path dir;

    private final BlockingQueue<LoadResult> reloads = new LinkedBlockingQueue<>();
    private ConfigWatcher watcher;

    @AfterEach
    void tearDown() {
        if (watcher != null) {
            watcher.close();
        }
    }

    private static String config(int rpm) {
        return "api_keys: [{ key_id: k, api_key: \"${KEY:-s}\", task_types: [chat], max_rpm: " + rpm + " }]\n";
    }

    private void watch(Path config, List<Path> envFiles) throws IOException {
        watcher = ConfigWatcher.start(config, envFiles, Map.of(), dir, Duration.ofMillis(50), reloads::add);
    }

    private LoadResult nextReload() throws InterruptedException {
        LoadResult result = reloads.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(result).as("a reload within %ss", WAIT_SECONDS).isNotNull();
        return result;
    }

    private static long rpm(LoadResult result) {
        return result.configOrThrow().apiKeys().get(0).maxRpm();
    }

    @Test
    void reloadsWhenTheFileIsEditedInPlace() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        watch(config, List.of());
        Files.writeString(config, config(20));
        assertThat(rpm(nextReload())).isEqualTo(20);
    }

    @Test
    void reloadsWhenAnEditorRenamesANewFileOverTheOldOne() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        watch(config, List.of());
        Path temp = Files.writeString(dir.resolve(".keymux.yaml.swp"), config(30));
        Files.move(temp, config, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        assertThat(rpm(nextReload())).isEqualTo(30);
    }

    @Test
    void reloadsWhenAKubernetesConfigMapSwapsItsDataSymlink() throws Exception {
        // The layout kubelet creates: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>.
        Path mount = Files.createDirectory(dir.resolve("configmap"));
        Path v1 = Files.createDirectory(mount.resolve("..2026_11_22_v1"));
        Files.writeString(v1.resolve("config.yaml"), config(10));
        Files.createSymbolicLink(mount.resolve("..data"), v1.getFileName());
        Path config = Files.createSymbolicLink(mount.resolve("config.yaml"), Path.of("..data", "config.yaml"));
        watch(config, List.of());

        Path v2 = Files.createDirectory(mount.resolve("..2026_11_22_v2"));
        Files.writeString(v2.resolve("config.yaml"), config(40));
        Path tmpLink = Files.createSymbolicLink(mount.resolve("..data_tmp"), v2.getFileName());
        Files.move(tmpLink, mount.resolve("..data"), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);

        assertThat(rpm(nextReload())).isEqualTo(40);
    }

    @Test
    void anInvalidChangeIsDeliveredAsProblems() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        watch(config, List.of());
        Files.writeString(config, config(-1));
        LoadResult result = nextReload();
        assertThat(result.ok()).isFalse();
        assertThat(result.problems()).extracting(p -> p.path() + ": " + p.message())
                .containsExactly("api_keys[0].max_rpm: must be > 0 (got -1)");
    }

    @Test
    void reloadsWhenAnEnvFileChanges() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        Path envDir = Files.createDirectory(dir.resolve("env"));
        Path env = Files.writeString(envDir.resolve("keys.env"), "KEY=old\n");
        watch(config, List.of(env));
        Files.writeString(env, "KEY=rotated\n");
        LoadResult result = nextReload();
        assertThat(result.configOrThrow().apiKeys().get(0).apiKey().reveal()).isEqualTo("rotated");
    }

    @Test
    void unchangedContentDoesNotReload() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        watch(config, List.of());
        // Rewriting the same bytes and touching a neighbour are events, but not changes...
        Files.writeString(config, config(10));
        Files.writeString(dir.resolve("unrelated.txt"), "x");
        // ...so the first reload delivered is the real change that follows.
        Files.writeString(config, config(50));
        assertThat(rpm(nextReload())).isEqualTo(50);
    }

    @Test
    void burstsOfWritesEndInTheLastContent() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        watch(config, List.of());
        for (int rpm = 11; rpm <= 20; rpm++) {
            Files.writeString(config, config(rpm));
        }
        LoadResult last = nextReload();
        while (rpm(last) != 20) {
            last = nextReload();
        }
        assertThat(rpm(last)).isEqualTo(20);
    }

    @Test
    void closeStopsTheWatcher() throws Exception {
        Path config = Files.writeString(dir.resolve("keymux.yaml"), config(10));
        watch(config, List.of());
        assertThat(watcher.running()).isTrue();
        watcher.close();
        assertThat(watcher.running()).isFalse();
        watcher.close();
        assertThat(watcher.files()).containsExactly(
                config.toAbsolutePath().normalize(), dir.toAbsolutePath().normalize().resolve(".env"));
    }
}
