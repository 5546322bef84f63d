package io.keymux.config.load;

import io.keymux.config.model.KeymuxConfig;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The outcome of {@link ConfigLoader#load}: either a valid configuration (and no problems) or every
 * problem found (and no configuration). Warnings may accompany both.
 *
 * @param config the loaded configuration, or {@code null} when there is at least one problem
 * @param problems every problem found, in file order as far as possible
 * @param warnings things that are allowed but probably not meant, for example protected mode
 */
public record LoadResult(@Nullable KeymuxConfig config, List<Problem> problems, List<String> warnings) {

    public LoadResult {
        problems = List.copyOf(problems);
        warnings = List.copyOf(warnings);
        if ((config == null) == problems.isEmpty()) {
            throw new IllegalArgumentException("exactly one of config and problems must be present");
        }
    }

    /** Whether the configuration is valid. */
    public boolean ok() {
        return config != null;
    }

    /** The configuration; only call when {@link #ok()}. */
    public KeymuxConfig configOrThrow() {
        if (config == null) {
            throw new IllegalStateException("invalid configuration: " + problems.size() + " problem(s), first: "
                    + problems.get(0));
        }
        return config;
    }
}
