package io.keymux.config.model;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Limits a key has for the models matching one pattern, within the key-wide limits. Unset limits
 * are {@code null}: only the key-wide limit applies on that axis.
 *
 * <pre>{@code
 * models:
 *   "gpt-4o": { max_rpm: 500, max_tpm: 30000 }
 *   "gpt-4o-mini*": { max_rpm: 5000 }
 * }</pre>
 *
 * @param pattern a glob ({@code *}, {@code ?}) on the request body's {@code model}
 */
public record ModelLimits(String pattern, @Nullable Long maxRpm, @Nullable Long maxTpm) {

    public ModelLimits {
        Objects.requireNonNull(pattern, "pattern");
    }
}
