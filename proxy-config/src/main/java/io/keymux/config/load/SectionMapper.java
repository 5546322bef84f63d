package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What every section mapper shares: typed access to a node's fields that interpolates strings
 * just before typing, reports each problem with its path into the one {@link Diagnostics} of the
 * load (so every problem is found in one pass), and shows values as written in the file, never a
 * variable's value and never a secret.
 */
abstract class SectionMapper {
    static final Pattern DURATION = Pattern.compile("(\\d{1,12})(ms|s|m|h)");
    static final Pattern SHA256_HEX = Pattern.compile("[0-9a-fA-F]{64}");
    static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    static final String DURATION_EXPECTED = "must be a duration like 500ms, 5s, 2m or 1h";

    final Diagnostics diag;
    final Interpolator interpolator;

    SectionMapper(Diagnostics diag, Interpolator interpolator) {
        this.diag = diag;
        this.interpolator = interpolator;
    }

    final void problem(String path, String message) {
        diag.problem(path, message);
    }

    /** The field's node, or {@code null} when absent or explicitly null. */
    static @Nullable JsonNode field(ObjectNode o, String name) {
        JsonNode n = o.get(name);
        return n == null || n.isNull() || n.isMissingNode() ? null : n;
    }

    boolean required(ObjectNode o, String f, String path) {
        if (field(o, f) == null) {
            problem(path, "is required");
            return false;
        }
        return true;
    }

    /** The node as an object whose fields are all known; {@code null} (and a problem) otherwise. */
    @Nullable ObjectNode object(@Nullable JsonNode node, String path, List<String> allowed) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            problem(path, "must be an object (got " + describe(node) + ")");
            return null;
        }
        checkFields((ObjectNode) node, path, allowed);
        return (ObjectNode) node;
    }

    void checkFields(ObjectNode o, String path, List<String> allowed) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!allowed.contains(name) && !(path.isEmpty() && name.equals(TreeMapper.SCHEMA_FIELD))) {
                problem(path.isEmpty() ? name : path + "." + name,
                        "unknown field (expected one of: " + String.join(", ", allowed) + ")");
            }
        }
    }

    @Nullable String interpolate(String text, String path) {
        Interpolator.Result r = interpolator.apply(text);
        if (r.syntaxError() != null) {
            problem(path, r.syntaxError());
            return null;
        }
        for (String name : r.missing()) {
            problem(path, "${" + name + "} is not set");
        }
        if (r.ok() && r.usedVariable()) {
            diag.writtenAs(r.value(), text);
        }
        return r.ok() ? r.value() : null;
    }

    /** A name for a message: as written in the file when it came from a variable. */
    String quoted(String value) {
        return diag.quoted(value);
    }

    /** Interpolation whose problems were already reported elsewhere. */
    @Nullable String interpolateQuietly(String text) {
        Interpolator.Result r = interpolator.apply(text);
        return r.ok() ? r.value() : null;
    }

    /**
     * A secret string field. Same as {@link #string}, named apart so the rule is visible: a problem
     * about a secret never shows its value ({@code string} only ever names the kind of a wrong node).
     */
    @Nullable String secret(ObjectNode o, String f, String path) {
        String value = string(o, f, path);
        if (value != null && hasControlCharacter(value)) {
            // A key travels in an HTTP header: a CR or LF there would split it (header injection).
            problem(path, "must not contain control characters (CR, LF, tab, ...): check for a stray line"
                    + " break where the value was pasted or read from a file");
            return null;
        }
        return value;
    }

    private static boolean hasControlCharacter(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c == 0x7F) {
                return true;
            }
        }
        return false;
    }

    /** A string field, interpolated; numbers and booleans are accepted as their text. */
    @Nullable String string(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (n.isTextual()) {
            return interpolate(n.textValue(), path);
        }
        if (n.isNumber() || n.isBoolean()) {
            return n.asText();
        }
        problem(path, "must be a string (got " + describe(n) + ")");
        return null;
    }

    @Nullable String nonEmptyString(ObjectNode o, String f, String path) {
        String s = string(o, f, path);
        if (s != null && s.isBlank()) {
            problem(path, "must not be empty");
            return null;
        }
        return s;
    }

    @Nullable List<String> stringList(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (!n.isArray()) {
            problem(path, "must be a list (got " + describe(n) + ")");
            return null;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            String p = path + "[" + i + "]";
            if (e.isTextual()) {
                String v = interpolate(e.textValue(), p);
                if (v != null && v.isBlank()) {
                    problem(p, "must not be empty");
                } else if (v != null) {
                    out.add(v);
                }
            } else {
                problem(p, "must be a string (got " + describe(e) + ")");
            }
        }
        return out;
    }

    @Nullable Long integer(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            return n.longValue();
        }
        if (n.isTextual()) {
            String t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
            try {
                return Long.parseLong(t.strip());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        problem(path, "must be an integer (got " + got(n) + ")");
        return null;
    }

    @Nullable Integer integerIn(ObjectNode o, String f, String path, int min, int max) {
        Long v = integer(o, f, path);
        if (v == null) {
            return null;
        }
        if (v < min || v > max) {
            if (max == Integer.MAX_VALUE) {
                problem(path, "must be " + (min == 1 ? "> 0" : ">= " + min) + " (got " + got(o.get(f)) + ")");
            } else if (min == Integer.MIN_VALUE) {
                problem(path, "must be <= " + max + " (got " + got(o.get(f)) + ")");
            } else {
                problem(path, "must be between " + min + " and " + max + " (got " + got(o.get(f)) + ")");
            }
            return null;
        }
        return v.intValue();
    }

    @Nullable Integer port(ObjectNode o, String f, String path) {
        // 0 asks the OS for a free port: what tests and the demo use.
        return integerIn(o, f, path, 0, 65535);
    }

    @Nullable Integer positiveInt(ObjectNode o, String f, String path) {
        return integerIn(o, f, path, 1, Integer.MAX_VALUE);
    }

    @Nullable Long positiveLong(ObjectNode o, String f, String path) {
        Long v = integer(o, f, path);
        if (v != null && v <= 0) {
            problem(path, "must be > 0 (got " + got(o.get(f)) + ")");
            return null;
        }
        return v;
    }

    @Nullable Double number(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        Double v = null;
        if (n.isNumber()) {
            v = n.doubleValue();
        } else if (n.isTextual()) {
            String t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
            try {
                v = Double.parseDouble(t.strip());
            } catch (NumberFormatException e) {
                v = null;
            }
        }
        if (v == null || v.isNaN() || v.isInfinite()) {
            problem(path, "must be a number (got " + got(n) + ")");
            return null;
        }
        return v;
    }

    @Nullable Double nonNegative(ObjectNode o, String f, String path) {
        Double v = number(o, f, path);
        if (v != null && v < 0) {
            problem(path, "must be >= 0 (got " + got(o.get(f)) + ")");
            return null;
        }
        return v;
    }

    @Nullable Boolean bool(ObjectNode o, String f, String path) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isTextual()) {
            String t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
            if (t.strip().equalsIgnoreCase("true")) {
                return true;
            }
            if (t.strip().equalsIgnoreCase("false")) {
                return false;
            }
        }
        problem(path, "must be true or false (got " + got(n) + ")");
        return null;
    }

    @Nullable Duration duration(ObjectNode o, String f, String path, boolean positive) {
        JsonNode n = field(o, f);
        if (n == null) {
            return null;
        }
        String t = null;
        if (n.isTextual()) {
            t = interpolate(n.textValue(), path);
            if (t == null) {
                return null;
            }
        }
        Matcher m = t == null ? null : DURATION.matcher(t.strip());
        if (m == null || !m.matches()) {
            problem(path, DURATION_EXPECTED + " (got " + got(n) + ")");
            return null;
        }
        long amount = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            default -> Duration.ofHours(amount);
        };
        if (positive && d.isZero()) {
            problem(path, "must be > 0 (got " + got(n) + ")");
            return null;
        }
        return d;
    }

    /** The value as written in the file: text before interpolation, so no variable's value shows. */
    static String got(@Nullable JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        if (n.isTextual()) {
            String text = n.textValue();
            if (looksLikeSecret(text)) {
                // A key pasted into the wrong field must not reach a log through its error.
                return "a string that looks like a secret (not shown)";
            }
            String shown = URL_USER_INFO.matcher(text).replaceAll("$1***@");
            if (shown.length() > MAX_SHOWN) {
                shown = shown.substring(0, MAX_SHOWN) + "...";
            }
            return '"' + shown + '"';
        }
        return describe(n);
    }

    /** {@code scheme://user:password@}: the credentials part of a URL, never shown. */
    private static final java.util.regex.Pattern URL_USER_INFO =
            java.util.regex.Pattern.compile("(?i)([a-z][a-z0-9+.-]*://)[^/?#@\\s]*@");
    private static final int MAX_SHOWN = 120;
    /** Prefixes of the providers' keys and tokens (OpenAI, Anthropic, NVIDIA, xAI, Groq, Google, Hugging Face, GitHub). */
    private static final List<String> SECRET_PREFIXES =
            List.of("sk-", "sk_", "nvapi-", "xai-", "gsk_", "aiza", "hf_", "ghp_", "github_pat_", "bearer ");

    /**
     * Whether a value written where a secret does not belong looks like one: a known key prefix, or
     * one long token mixing letters and digits (what a random key looks like, and no number, name,
     * duration or URL does).
     */
    static boolean looksLikeSecret(String text) {
        String t = text.strip().toLowerCase(java.util.Locale.ROOT);
        for (String prefix : SECRET_PREFIXES) {
            if (t.startsWith(prefix) && t.length() > prefix.length() + 4) {
                return true;
            }
        }
        if (t.length() < 24 || t.contains("://") || t.contains("${")) {
            return false;
        }
        boolean letter = false;
        boolean digit = false;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (Character.isLetter(c)) {
                letter = true;
            } else if (Character.isDigit(c)) {
                digit = true;
            } else if (c != '-' && c != '_' && c != '.') {
                return false;
            }
        }
        return letter && digit;
    }

    static String describe(JsonNode n) {
        if (n.isObject()) {
            return "an object";
        }
        if (n.isArray()) {
            return "a list";
        }
        if (n.isTextual()) {
            return "a string";
        }
        return n.toString();
    }

    static String sha256Hex(String value) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    static <T> T orElse(@Nullable T value, T fallback) {
        return value != null ? value : fallback;
    }

    static int intOr(@Nullable Integer value, int fallback) {
        return value != null ? value : fallback;
    }

    static long longOr(@Nullable Long value, long fallback) {
        return value != null ? value : fallback;
    }

    static boolean boolOr(@Nullable Boolean value, boolean fallback) {
        return value != null ? value : fallback;
    }
}
