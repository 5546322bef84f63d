package io.keymux.server.guard;

import org.jspecify.annotations.Nullable;

/**
 * SPEC.md section 3.5: the request target must be origin-form ({@code /path?query}, RFC 9112
 * 3.2.1). Anything else would let a client steer the forwarded request somewhere the upstream's
 * {@code base_url} did not mean: an absolute-form or authority-form target ({@code http://host/...},
 * {@code host:443}, {@code @host}), {@code *}, a path glued onto the base path without a
 * {@code /}, a network-path reference ({@code //host/...}), a backslash (which some servers read as
 * {@code /}), or a dot segment in any spelling ({@code ..}, {@code %2e%2e}, {@code ..%2f},
 * {@code ..;}, {@code .}).
 *
 * <p>The path is checked as the upstream (or a stack behind it) may read it: percent-escapes are
 * decoded up to {@value #DECODE_ROUNDS} times (a double-encoded {@code %252e} is a dot to a server
 * that decodes twice), then split at {@code /} (an encoded {@code %2f} included), and a segment's
 * {@code ;parameters} are dropped before comparing it with {@code .} and {@code ..} (Tomcat and
 * Jetty read {@code ..;x} as {@code ..}). The query is not checked: it names no path.
 *
 * <pre>{@code
 * OriginForm.problem("/v1/chat/completions?x=1")  // null: fine
 * OriginForm.problem("/v1/..%2fadmin")            // "a dot segment ..."
 * }</pre>
 */
final class OriginForm {
    /** How often percent-escapes are decoded while looking for a hidden dot segment or separator. */
    static final int DECODE_ROUNDS = 3;

    private OriginForm() {}

    /** Why the target is refused (a message for the client, quoting nothing of it), or {@code null}. */
    static @Nullable String problem(String target) {
        if (target.isEmpty() || target.charAt(0) != '/') {
            return "the request target must be a path starting with / (origin-form, RFC 9112 3.2.1); "
                    + "absolute-form, authority-form and * targets are not proxied";
        }
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        if (path.indexOf('#') >= 0) {
            return "the request target may not contain a fragment (#)";
        }
        String decoded = path;
        for (int round = 0; round <= DECODE_ROUNDS; round++) {
            String problem = pathProblem(decoded);
            if (problem != null) {
                return problem;
            }
            String next = percentDecode(decoded);
            if (next.equals(decoded)) {
                return null;
            }
            decoded = next;
        }
        return "the request path is percent-encoded more than " + DECODE_ROUNDS + " times over";
    }

    private static @Nullable String pathProblem(String path) {
        if (path.startsWith("//")) {
            return "the request path may not start with // (a network-path reference names another host)";
        }
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '\\') {
                return "the request path may not contain a backslash";
            }
            if (c < 0x20 || c == 0x7f) {
                return "the request path may not contain control characters";
            }
        }
        int start = 1;
        while (start <= path.length()) {
            int end = path.indexOf('/', start);
            if (end < 0) {
                end = path.length();
            }
            String segment = path.substring(start, end);
            int params = segment.indexOf(';');
            if (params >= 0) {
                segment = segment.substring(0, params);
            }
            if (segment.equals(".") || segment.equals("..")) {
                return "the request path may not contain a dot segment (. or .., in any spelling)";
            }
            start = end + 1;
        }
        return null;
    }

    /** Decodes every valid {@code %XX} escape to its byte as a character; anything else stays as it is. */
    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length() && hex(s.charAt(i + 1)) >= 0 && hex(s.charAt(i + 2)) >= 0) {
                out.append((char) (hex(s.charAt(i + 1)) * 16 + hex(s.charAt(i + 2))));
                i += 2;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }
}
