package io.keymux.config.reload;

import static java.util.Objects.requireNonNull;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a configuration file and its env files and reloads on change (SPEC.md section 7).
 *
 * <p>It watches the <em>directories</em> holding the files, not the files, because editors save by
 * writing a temporary file and renaming it over the original, and a Kubernetes ConfigMap volume
 * swaps a {@code ..data} symlink: in both cases the watched file's inode is replaced. Any event in
 * those directories starts a debounce window; when it has been quiet for the debounce time the
 * files' real paths and SHA-256 content hashes are compared with the last ones, and only a real
 * change reloads through {@link ConfigLoader} and calls the listener with the result (a valid
 * config, or the problems: the caller keeps the old config then).
 *
 * <pre>{@code
 * try (ConfigWatcher watcher = ConfigWatcher.start(config, envFiles, System.getenv(), Path.of(""),
 *         ConfigWatcher.DEFAULT_DEBOUNCE, result -> { if (result.ok()) swap(result.configOrThrow()); })) {
 *     ...
 * }
 * }</pre>
 *
 * <p>The watcher runs on its own daemon thread; {@link #close()} stops it.
 */
public final class ConfigWatcher implements AutoCloseable {

    /** Long enough to merge an editor's write-rename-chmod burst into one reload. */
    public static final Duration DEFAULT_DEBOUNCE = Duration.ofMillis(250);

    private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);

    /** Receives every reload whose inputs really changed. Called on the watcher thread. */
    @FunctionalInterface
    public interface Listener {
        /** A reload result: {@code result.ok()} with the new config, or the problems that refused it. */
        void onReload(LoadResult result);
    }

    private final Path configFile;
    private final List<Path> envFiles;
    private final Map<String, String> environment;
    private final Path workingDir;
    private final long debounceNanos;
    private final Listener listener;
    private final WatchService watchService;
    private final Set<Path> watchedDirs = new HashSet<>();
    private final Thread thread;
    private volatile boolean closed;
    private String fingerprint;

    private ConfigWatcher(
            Path configFile,
            List<Path> envFiles,
            Map<String, String> environment,
            Path workingDir,
            Duration debounce,
            Listener listener) throws IOException {
        this.configFile = configFile.toAbsolutePath().normalize();
        this.envFiles = envFiles.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        this.environment = Map.copyOf(environment);
        this.workingDir = workingDir.toAbsolutePath().normalize();
        this.debounceNanos = debounce.toNanos();
        this.listener = listener;
        this.watchService = this.configFile.getFileSystem().newWatchService();
        registerDirectories();
        this.fingerprint = fingerprint();
        this.thread = new Thread(this::run, "keymux-config-watcher");
        this.thread.setDaemon(true);
    }

    /**
     * Starts watching. The file contents at this moment are the baseline: the listener is called
     * only for later changes, so load the initial config before calling this.
     *
     * @param environment the process environment, as given to {@link ConfigLoader#load}
     * @param workingDir where {@code .env} lives (it is watched too)
     */
    public static ConfigWatcher start(
            Path configFile,
            List<Path> envFiles,
            Map<String, String> environment,
            Path workingDir,
            Duration debounce,
            Listener listener) throws IOException {
        requireNonNull(configFile, "configFile");
        requireNonNull(envFiles, "envFiles");
        requireNonNull(environment, "environment");
        requireNonNull(workingDir, "workingDir");
        requireNonNull(debounce, "debounce");
        requireNonNull(listener, "listener");
        if (debounce.isNegative()) {
            throw new IllegalArgumentException("debounce: " + debounce + " (expected: >= 0)");
        }
        ConfigWatcher watcher = new ConfigWatcher(configFile, envFiles, environment, workingDir, debounce, listener);
        watcher.thread.start();
        return watcher;
    }

    /** Stops watching and waits (bounded) for the watcher thread to end. */
    @Override
    public void close() {
        closed = true;
        try {
            watchService.close();
        } catch (IOException e) {
            log.warn("closing the config watch service failed", e);
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        long deadline = 0;
        boolean pending = false;
        try {
            while (!closed) {
                WatchKey key;
                if (pending) {
                    long wait = deadline - System.nanoTime();
                    key = wait > 0 ? watchService.poll(wait, TimeUnit.NANOSECONDS) : null;
                } else {
                    key = watchService.take();
                }
                if (key != null) {
                    // Which file changed does not matter: the fingerprint decides. Drain and re-arm.
                    key.pollEvents();
                    if (!key.reset() && key.watchable() instanceof Path gone) {
                        // The directory went away (a ConfigMap's old timestamped dir, or a removed and
                        // recreated config dir): forget it so the next check registers it again.
                        watchedDirs.remove(gone);
                    }
                    pending = true;
                    deadline = System.nanoTime() + debounceNanos;
                    continue;
                }
                pending = false;
                check();
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // close() was called: the normal way out.
        }
    }

    private void check() {
        try {
            registerDirectories();
        } catch (IOException e) {
            log.warn("watching the config directories failed: {}", e.toString());
        }
        String now = fingerprint();
        if (now.equals(fingerprint)) {
            return;
        }
        fingerprint = now;
        LoadResult result = ConfigLoader.load(configFile, envFiles, environment, workingDir);
        try {
            listener.onReload(result);
        } catch (RuntimeException e) {
            // A failing listener must not stop later reloads.
            log.error("config reload listener failed", e);
        }
    }

    private List<Path> watchedFiles() {
        List<Path> files = new ArrayList<>();
        files.add(configFile);
        files.addAll(envFiles);
        files.add(workingDir.resolve(ConfigLoader.DOT_ENV));
        return files;
    }

    /**
     * Registers the directory of each file and, when the file is a symlink, of its target, so both
     * a rename next to the link and a swap of what it points to are seen.
     */
    private void registerDirectories() throws IOException {
        for (Path file : watchedFiles()) {
            register(file.getParent());
            Path real = realPath(file);
            if (real != null) {
                register(real.getParent());
            }
        }
    }

    private void register(@Nullable Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir) || !watchedDirs.add(dir)) {
            return;
        }
        dir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
    }

    /** Real path and content hash of every input; equal fingerprints mean nothing to reload. */
    private String fingerprint() {
        StringBuilder sb = new StringBuilder();
        for (Path file : watchedFiles()) {
            Path real = realPath(file);
            sb.append(file).append(" -> ").append(real == null ? "(missing)" : real).append(' ');
            sb.append(real == null ? "-" : hash(real)).append('\n');
        }
        return sb.toString();
    }

    private static @Nullable Path realPath(Path file) {
        try {
            return file.toRealPath();
        } catch (IOException e) {
            return null;
        }
    }

    private static String hash(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchFileException e) {
            return "(missing)";
        } catch (IOException e) {
            // Unreadable right now (mid-swap); a differing marker makes the next check retry the load.
            return "(unreadable: " + e.getClass().getSimpleName() + ")";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** For tests and logs: the files this watcher reloads from. */
    public List<Path> files() {
        return watchedFiles();
    }

    /** Whether the watcher thread is still running; false once {@link #close()} returned. */
    public boolean running() {
        return thread.isAlive();
    }
}
