package io.keymux.config.model;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * A secret value (an upstream API key, a client key, the admin token). It lives in memory only:
 * {@link #toString()} is redacted so a secret cannot reach a log line, an exception message or a
 * record's generated {@code toString()} by accident. Read the value with {@link #reveal()} only where
 * it is put on the wire or compared.
 */
public final class Secret {
    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    /** Wraps a secret value. */
    public static Secret of(String value) {
        return new Secret(Objects.requireNonNull(value, "value"));
    }

    /** The secret itself: only for injecting it into an upstream request or comparing it. */
    public String reveal() {
        return value;
    }

    /** Whether the value is empty (an unset variable that interpolated to nothing). */
    public boolean isEmpty() {
        return value.isEmpty();
    }

    /** Compares with a candidate in time independent of where they differ. */
    public boolean matches(String candidate) {
        return MessageDigest.isEqual(
                value.getBytes(StandardCharsets.UTF_8), candidate.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Equality compares values in constant time, so two snapshots can tell whether a key was
     * rotated without exposing the value.
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof Secret other && matches(other.value);
    }

    @Override
    public int hashCode() {
        // Deliberately constant: a hash of the value would be a (weak) fingerprint of the secret.
        return 0x5ec7e7;
    }

    @Override
    public String toString() {
        return "***";
    }
}
