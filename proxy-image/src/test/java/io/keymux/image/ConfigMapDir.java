package io.keymux.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A directory laid out as the kubelet lays out a mounted ConfigMap: {@code config.yaml ->
 * ..data/config.yaml}, {@code ..data -> ..<version>}; an update writes a new version directory
 * and renames a new {@code ..data} link over the old one (the atomic "symlink swap").
 */
final class ConfigMapDir {
    private final Path dir;
    private int version;

    ConfigMapDir(Path dir, String configYaml) throws IOException {
        this.dir = dir;
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createSymbolicLink(dir.resolve("..data"), Path.of(writeVersion(configYaml)));
        Files.createSymbolicLink(dir.resolve("config.yaml"), Path.of("..data", "config.yaml"));
    }

    Path path() {
        return dir;
    }

    /** Publishes {@code configYaml} as the kubelet does: new version, then one rename of ..data. */
    void swap(String configYaml) throws IOException {
        String next = writeVersion(configYaml);
        Path tmp = dir.resolve("..data_tmp");
        Files.createSymbolicLink(tmp, Path.of(next));
        Files.move(tmp, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private String writeVersion(String configYaml) throws IOException {
        String name = "..2026_12_07_00_00_0" + (++version);
        Path versionDir = Files.createDirectory(dir.resolve(name));
        Files.setPosixFilePermissions(versionDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path file = versionDir.resolve("config.yaml");
        Files.writeString(file, configYaml);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        return name;
    }
}
