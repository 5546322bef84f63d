package io.keymux.config.load;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Parses {@code .env} files: {@code KEY=VALUE} lines, an optional {@code export } prefix, single or
 * double quotes, {@code #} comments and blank lines. Values are taken literally (no interpolation).
 * Problems name the file and line but never echo the line, since it may hold a secret.
 */
final class DotEnv {

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.]*");

    private DotEnv() {}

    /**
     * Parses the lines of one file into {@code vars}, later lines winning, and adds a problem for
     * every line that is not a variable assignment.
     */
    static void parse(String source, List<String> lines, Map<String, String> vars, List<Problem> problems) {
        for (int i = 0; i < lines.size(); i++) {
            String where = source + ":" + (i + 1);
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("export ") || line.startsWith("export\t")) {
                line = line.substring("export".length()).strip();
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                problems.add(new Problem(where, "expected KEY=VALUE"));
                continue;
            }
            String name = line.substring(0, eq).strip();
            if (!NAME.matcher(name).matches()) {
                problems.add(new Problem(where, "invalid variable name (expected: letters, digits and _)"));
                continue;
            }
            String rest = line.substring(eq + 1).strip();
            String value = value(rest);
            if (value == null) {
                problems.add(new Problem(where, "unterminated quoted value for " + name));
                continue;
            }
            vars.put(name, value);
        }
    }

    /** Parses the right-hand side; {@code null} when a quote is not closed. */
    private static @Nullable String value(String rest) {
        if (rest.startsWith("\"")) {
            StringBuilder out = new StringBuilder();
            for (int i = 1; i < rest.length(); i++) {
                char c = rest.charAt(i);
                if (c == '"') {
                    return out.toString();
                }
                if (c == '\\' && i + 1 < rest.length()) {
                    char next = rest.charAt(++i);
                    switch (next) {
                        case 'n' -> out.append('\n');
                        case 't' -> out.append('\t');
                        case 'r' -> out.append('\r');
                        default -> out.append(next);
                    }
                } else {
                    out.append(c);
                }
            }
            return null;
        }
        if (rest.startsWith("'")) {
            int end = rest.indexOf('\'', 1);
            return end < 0 ? null : rest.substring(1, end);
        }
        // Unquoted: a # preceded by whitespace starts a comment, as in shells and docker compose.
        for (int i = 0; i < rest.length(); i++) {
            if (rest.charAt(i) == '#' && (i == 0 || Character.isWhitespace(rest.charAt(i - 1)))) {
                return rest.substring(0, i).strip();
            }
        }
        return rest;
    }

    /** A fresh ordered map for merging files. */
    static Map<String, String> newVars() {
        return new LinkedHashMap<>();
    }
}
