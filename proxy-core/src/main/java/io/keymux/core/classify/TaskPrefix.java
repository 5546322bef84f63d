package io.keymux.core.classify;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The {@code /tasks/{task}/...} path prefix: which task it names and the path left to forward.
 * The path given is the raw (still percent-encoded) request path, without the query.
 */
public sealed interface TaskPrefix {

    /** The path does not start with {@code /tasks/}. */
    record Absent() implements TaskPrefix {}

    /**
     * The prefix names a task.
     *
     * @param forwardPath the rest of the path, starting with {@code /} (just {@code /} if nothing follows)
     */
    record Present(String task, String forwardPath) implements TaskPrefix {}

    /** The prefix is malformed or an attempt at traversal; answered 400 {@code bad_request}. */
    record Invalid(String message) implements TaskPrefix {}

    /** The literal prefix. */
    String PREFIX = "/tasks/";

    /** Parses the raw path. */
    static TaskPrefix parse(String rawPath) {
        if (!rawPath.startsWith(PREFIX)) {
            return new Absent();
        }
        int end = rawPath.indexOf('/', PREFIX.length());
        String segment = end < 0 ? rawPath.substring(PREFIX.length()) : rawPath.substring(PREFIX.length(), end);
        String rest = end < 0 ? "/" : rawPath.substring(end);
        if (segment.isEmpty()) {
            return new Invalid("the path prefix /tasks/{task}/ has an empty task name");
        }
        String task = decodeSegment(segment);
        if (task == null) {
            return new Invalid("the task name in the path prefix /tasks/{task}/ is badly percent-encoded");
        }
        if (task.equals(".") || task.equals("..") || task.indexOf('/') >= 0 || task.indexOf('\\') >= 0
                || !segment.equals(task) && segment.matches("(?i).*%(2e|2f|5c).*")) {
            return new Invalid("the task name in the path prefix /tasks/{task}/ may not hold '.', '..', '/' or '\\'"
                    + " (plain or percent-encoded)");
        }
        return new Present(task, rest);
    }

    /** Strict percent-decoding ({@code +} stays a plus); {@code null} when malformed. */
    private static @Nullable String decodeSegment(String segment) {
        if (segment.indexOf('%') < 0) {
            return segment;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(segment.length());
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c == '%') {
                if (i + 2 >= segment.length()) {
                    return null;
                }
                int hi = Character.digit(segment.charAt(i + 1), 16);
                int lo = Character.digit(segment.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                out.write(hi * 16 + lo);
                i += 2;
            } else {
                byte[] bytes = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(bytes, 0, bytes.length);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
