package io.keymux.config.load;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The line of every value in a parsed config file, by its JSON pointer, so that a problem found on
 * the typed tree ({@code api_keys[2].max_rpm}) can say where it is written ({@code keymux.yaml:14}).
 * Built by one streaming pass over the text the tree came from; only token positions are kept,
 * never a value.
 */
final class ConfigLines {
    private static final Pattern SEGMENT = Pattern.compile("([^.\\[\\]]+)|\\[(\\d+)]");

    private final String file;
    private final Map<String, Integer> lineByPointer;

    private ConfigLines(String file, Map<String, Integer> lineByPointer) {
        this.file = file;
        this.lineByPointer = lineByPointer;
    }

    /** The lines of {@code text}, or none when it does not parse (its parse error has the line). */
    static ConfigLines of(String file, String text, ObjectMapper mapper) {
        Map<String, Integer> lines = new HashMap<>();
        try (JsonParser p = mapper.getFactory().createParser(text)) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                if (t == JsonToken.FIELD_NAME || t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    continue;
                }
                // For a value, the context is its parent with the value's name or index set; for the
                // start of an object or array, the new context, whose pointer is the container's own.
                String pointer = p.getParsingContext().pathAsPointer().toString();
                lines.putIfAbsent(pointer, p.currentTokenLocation().getLineNr());
            }
        } catch (IOException e) {
            return new ConfigLines(file, Map.of());
        }
        return new ConfigLines(file, lines);
    }

    /**
     * {@code file:line} of the value at {@code path}, or of its nearest parent written in the file
     * (a missing field is reported at its object), or null when the path is not a config path.
     */
    @Nullable String locate(String path) {
        String pointer = pointer(path);
        while (pointer != null) {
            Integer line = lineByPointer.get(pointer);
            if (line != null && line > 0) {
                return file + ":" + line;
            }
            if (pointer.isEmpty()) {
                return null;
            }
            pointer = pointer.substring(0, pointer.lastIndexOf('/'));
        }
        return null;
    }

    /** {@code api_keys[2].max_rpm} as the JSON pointer {@code /api_keys/2/max_rpm}; null if it is no path. */
    static @Nullable String pointer(String path) {
        if (path.isEmpty() || path.startsWith("(") || path.contains(" ")) {
            return null;
        }
        StringBuilder pointer = new StringBuilder();
        Matcher m = SEGMENT.matcher(path);
        int end = 0;
        while (m.find()) {
            if (m.start() != end && path.charAt(end) != '.') {
                return null;
            }
            String segment = m.group(1) != null ? m.group(1) : m.group(2);
            pointer.append('/').append(segment.replace("~", "~0").replace("/", "~1"));
            end = m.end();
        }
        return end == path.length() ? pointer.toString() : null;
    }
}
