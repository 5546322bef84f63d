package io.keymux.config.load;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Keys that are still the examples' placeholders ({@code sk-fake-placeholder-1}, {@code
 * your-api-key}, {@code changeme}): such a config validates, then every request fails with the
 * provider's 401 and the key is disabled. {@code validate} and {@code serve} warn instead of
 * staying silent. The warning names the variable to set, never the value.
 */
final class Placeholders {
    /** Words that no issued key contains and every example or template key does. */
    private static final Pattern PLACEHOLDER = Pattern.compile(
            "placeholder|fake|dummy|example|changeme|change-me|change_me|replace[-_]?me|your[-_ ]?(api[-_ ]?)?key"
                    + "|^<.*>$|^x{6,}$|\\.\\.\\.");
    /** {@code ${NAME:-default}}: the value came from the default when NAME is unset. */
    private static final Pattern DEFAULTED = Pattern.compile("^\\$\\{([A-Za-z_][A-Za-z0-9_]*):-.*}$");

    private Placeholders() {}

    static boolean isPlaceholder(String key) {
        return PLACEHOLDER.matcher(key.toLowerCase(Locale.ROOT)).find();
    }

    /** The warning for a placeholder key at {@code path}, written as {@code written} in the file. */
    static String warning(String path, String written) {
        Matcher m = DEFAULTED.matcher(written.strip());
        String fix = m.matches()
                ? "the default of ${" + m.group(1) + "} is used because " + m.group(1) + " is not set; set it to the real key"
                : "replace it with the real key (or ${VAR} read from the environment)";
        return path + ": looks like a placeholder, not a key the provider issued (" + fix
                + "); every request with it would fail with the provider's 401";
    }
}
