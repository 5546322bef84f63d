package io.keymux.config.load;

import static java.util.Objects.requireNonNull;

/**
 * One thing wrong with a configuration, found at load time.
 *
 * <p>{@code toString()} is {@code path: message}, for example
 * {@code api_keys[2].max_rpm: must be > 0 (got -5)}. A message never contains a secret value.
 *
 * @param path where the problem is: a config path such as {@code tasks[1].fallback[0]}, or a file
 *     name (with {@code :line}) for problems with a whole file
 * @param message what is wrong and what was expected
 */
public record Problem(String path, String message) {

    public Problem {
        requireNonNull(path, "path");
        requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return path + ": " + message;
    }
}
