package io.keymux.core.classify;

import java.util.Objects;

/**
 * A glob with {@code *} (any run of characters, {@code /} included) and {@code ?} (exactly one
 * character); every other character matches itself. Matching is iterative with one backtrack point,
 * so a hostile pattern cannot make it exponential.
 *
 * <pre>{@code
 * Glob.of("gpt-4*").matches("gpt-4o-mini")   // true
 * }</pre>
 */
public final class Glob {
    private final String pattern;

    private Glob(String pattern) {
        this.pattern = pattern;
    }

    /** Compiles a glob. */
    public static Glob of(String pattern) {
        return new Glob(Objects.requireNonNull(pattern, "pattern"));
    }

    /** Whether the whole text matches the whole pattern. */
    public boolean matches(String text) {
        int p = 0;
        int t = 0;
        int starP = -1;
        int starT = 0;
        while (t < text.length()) {
            if (p < pattern.length() && (pattern.charAt(p) == '?' || pattern.charAt(p) == text.charAt(t))) {
                p++;
                t++;
            } else if (p < pattern.length() && pattern.charAt(p) == '*') {
                starP = p++;
                starT = t;
            } else if (starP >= 0) {
                p = starP + 1;
                t = ++starT;
            } else {
                return false;
            }
        }
        while (p < pattern.length() && pattern.charAt(p) == '*') {
            p++;
        }
        return p == pattern.length();
    }

    @Override
    public String toString() {
        return pattern;
    }
}
