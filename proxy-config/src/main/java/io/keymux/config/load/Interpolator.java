package io.keymux.config.load;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Replaces {@code ${VAR}} and {@code ${VAR:-default}} in a string. As in POSIX shells, the default
 * is used when the variable is unset or empty; {@code $${} is a literal {@code ${}.
 */
final class Interpolator {

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.]*");

    private final Map<String, String> vars;

    Interpolator(Map<String, String> vars) {
        this.vars = Map.copyOf(vars);
    }

    /**
     * The outcome for one string.
     *
     * @param value the interpolated text (unset variables replaced by nothing); only meaningful
     *     when {@link #ok()}
     * @param missing unset variables that had no default, in order of appearance
     * @param syntaxError what is malformed, or {@code null}
     * @param usedVariable whether some variable's value (not a default) went into {@code value}
     */
    record Result(String value, List<String> missing, @Nullable String syntaxError, boolean usedVariable) {
        boolean ok() {
            return missing.isEmpty() && syntaxError == null;
        }
    }

    Result apply(String text) {
        if (text.indexOf('$') < 0) {
            return new Result(text, List.of(), null, false);
        }
        StringBuilder out = new StringBuilder(text.length());
        List<String> missing = new ArrayList<>();
        boolean usedVariable = false;
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '$' && text.startsWith("$${", i)) {
                out.append("${");
                i += 3;
                continue;
            }
            if (c != '$' || !text.startsWith("${", i)) {
                out.append(c);
                i++;
                continue;
            }
            int end = text.indexOf('}', i + 2);
            if (end < 0) {
                return new Result(text, missing, "unterminated ${ (expected: ${VAR} or ${VAR:-default})", false);
            }
            String body = text.substring(i + 2, end);
            int sep = body.indexOf(":-");
            String name = sep < 0 ? body : body.substring(0, sep);
            if (!NAME.matcher(name).matches()) {
                return new Result(text, missing, "invalid variable reference ${" + body
                        + "} (expected: ${VAR} or ${VAR:-default})", false);
            }
            String value = vars.get(name);
            if (value != null && !(sep >= 0 && value.isEmpty())) {
                out.append(value);
                usedVariable = true;
            } else if (sep >= 0) {
                out.append(body, sep + 2, body.length());
            } else if (!missing.contains(name)) {
                missing.add(name);
            }
            i = end + 1;
        }
        return new Result(out.toString(), missing, null, usedVariable);
    }
}
