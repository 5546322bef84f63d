package io.keymux.config.model;

import java.util.Locale;
import java.util.Optional;

/** How a task chooses among its keys that have capacity. */
public enum Strategy {
    ROUND_ROBIN,
    LEAST_LOADED,
    PRIORITY,
    COST,
    LATENCY,
    WEIGHTED;

    /** The config spelling, for example {@code least_loaded}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the config spelling. */
    public static Optional<Strategy> fromConfigName(String name) {
        for (Strategy s : values()) {
            if (s.configName().equals(name)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }
}
