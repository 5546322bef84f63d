package io.keymux.config.load;

import static java.util.Objects.requireNonNull;

import org.jspecify.annotations.Nullable;

/**
 * One thing wrong with a configuration, found at load time.
 *
 * <p>{@code toString()} is {@code path: message}, followed by where in the file when that is known,
 * for example {@code api_keys[2].max_rpm: must be > 0 (got -5) [at keymux.yaml:14]}. The line stays
 * a suffix so that a script matching {@code path:} at the start keeps working. A message never
 * contains a secret value.
 *
 * @param path where the problem is: a config path such as {@code tasks[1].fallback[0]}, or a file
 *     name (with {@code :line}) for problems with a whole file
 * @param message what is wrong and what was expected
 * @param location {@code file:line} of the value the path names (or of its nearest written parent),
 *     or null when the path is not in a file (a whole-file problem, an env file)
 */
public record Problem(String path, String message, @Nullable String location) {

    public Problem {
        requireNonNull(path, "path");
        requireNonNull(message, "message");
    }

    /** A problem not yet placed in its file. */
    public Problem(String path, String message) {
        this(path, message, null);
    }

    /** This problem at {@code location} ({@code file:line}). */
    Problem at(@Nullable String where) {
        return new Problem(path, message, where);
    }

    @Override
    public String toString() {
        return location == null ? path + ": " + message : path + ": " + message + " [at " + location + "]";
    }
}
