package io.keymux.server.reload;

import io.keymux.config.model.Secret;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.jspecify.annotations.Nullable;

/**
 * The {@code /admin/*} check of SPEC.md section 5: {@code Authorization: Bearer <admin.token>}.
 * Both sides are hashed with SHA-256 before a {@link MessageDigest#isEqual} compare, so the time
 * taken says nothing about the token, its length included.
 */
public enum AdminToken {
    /** The token matches. */
    ALLOWED,
    /** No or a wrong token was presented: 401. */
    UNAUTHORIZED,
    /** No {@code admin.token} is configured, so {@code /admin/*} is off: 403. */
    NOT_CONFIGURED;

    /** Checks an {@code Authorization} header value against the configured token. */
    public static AdminToken check(@Nullable String authorization, @Nullable Secret token) {
        if (token == null || token.isEmpty()) {
            return NOT_CONFIGURED;
        }
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return UNAUTHORIZED;
        }
        byte[] presented = sha256(authorization.substring(7).trim());
        byte[] expected = sha256(token.reveal());
        return MessageDigest.isEqual(presented, expected) ? ALLOWED : UNAUTHORIZED;
    }

    private static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
