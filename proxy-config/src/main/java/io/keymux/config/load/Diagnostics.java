package io.keymux.config.load;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The problems and warnings of one load, collected by every section mapper in one pass, and the
 * values that came from variables, so that a message naming something by value shows it as written.
 */
final class Diagnostics {
    private final List<Problem> problems = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    /**
     * Values that came from a variable, mapped to their text as written ({@code ${NAME}}). A message
     * that names something by value (an unknown upstream, a duplicate key_id) shows the written text
     * instead, so a secret interpolated into the wrong field cannot leak through the message.
     */
    private final Map<String, String> fromVariables = new HashMap<>();

    void problem(String path, String message) {
        problems.add(new Problem(path.isEmpty() ? "(root)" : path, message));
    }

    void warn(String warning) {
        warnings.add(warning);
    }

    /** How many problems so far: a mapper compares counts to tell whether one field read cleanly. */
    int count() {
        return problems.size();
    }

    List<Problem> problems() {
        return problems;
    }

    List<String> warnings() {
        return warnings;
    }

    /** Remembers that {@code value} was written as {@code text} (with a variable). */
    void writtenAs(String value, String text) {
        fromVariables.put(value, text);
    }

    /** A name for a message, in quotes: as written in the file when it came from a variable. */
    String quoted(String value) {
        String raw = fromVariables.get(value);
        return "'" + (raw != null ? raw : value) + "'";
    }
}
