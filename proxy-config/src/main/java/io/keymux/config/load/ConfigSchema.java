package io.keymux.config.load;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The JSON Schema (draft 2020-12) of the configuration file, the same rules {@link ConfigLoader}
 * enforces, for editors and CI jobs. It ships in this jar as {@value #RESOURCE}; in the repository it
 * is {@code proxy-config/src/main/resources/keymux.schema.json}, which the examples reference with
 * {@code # yaml-language-server: $schema=../proxy-config/src/main/resources/keymux.schema.json}.
 *
 * <p>{@code ${VAR}} interpolation happens before typing, so wherever a number, a boolean, a duration
 * or an enum is expected the schema also accepts a string holding {@code ${...}}
 * ({@code anyOf} with the {@code interpolated} definition); the loader then checks the value.
 */
public final class ConfigSchema {

    /** Where the schema sits on the class path. */
    public static final String RESOURCE = "/keymux.schema.json";

    private ConfigSchema() {}

    /** The schema document, as it is in the repository. */
    public static String text() {
        try (InputStream in = ConfigSchema.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
