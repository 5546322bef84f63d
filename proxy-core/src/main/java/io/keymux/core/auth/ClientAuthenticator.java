package io.keymux.core.auth;

import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Matches a presented client key against the configured {@code clients}. Every client is compared
 * (no early exit) and each comparison is constant-time, so the answer time does not reveal which
 * client or which prefix matched. Immutable and thread-safe.
 *
 * <pre>{@code
 * AuthDecision d = ClientAuthenticator.of(config).authenticate(presentedKey, remoteIsLoopback);
 * }</pre>
 */
public final class ClientAuthenticator {
    /** The client name of callers let in without a key. */
    public static final String ANONYMOUS = "anonymous";

    private final List<ClientConfig> clients;
    private final boolean protectedMode;
    private final boolean open;

    private ClientAuthenticator(List<ClientConfig> clients, boolean protectedMode, boolean open) {
        this.clients = clients;
        this.protectedMode = protectedMode;
        this.open = open;
    }

    /** The authenticator for a configuration. */
    public static ClientAuthenticator of(KeymuxConfig config) {
        Objects.requireNonNull(config, "config");
        boolean open = config.clients().isEmpty() && config.server().allowUnauthenticated();
        return new ClientAuthenticator(config.clients(), config.protectedMode(), open);
    }

    /**
     * Decides for one request.
     *
     * @param presentedKey the key from {@code Authorization: Bearer}, {@code x-api-key} or
     *     {@code api-key}, or {@code null} when none was sent
     * @param loopback whether the caller connected from a loopback address
     */
    public AuthDecision authenticate(@Nullable String presentedKey, boolean loopback) {
        if (open) {
            return new AuthDecision.Admitted(ANONYMOUS, null);
        }
        if (protectedMode) {
            return loopback
                    ? new AuthDecision.Admitted(ANONYMOUS, null)
                    : new AuthDecision.Refused("keymux runs in protected mode: no clients are configured, so only"
                            + " loopback callers are served. Add a 'clients' list (name and key or key_sha256) to the"
                            + " config, or set server.allow_unauthenticated: true.");
        }
        if (presentedKey == null || presentedKey.isEmpty()) {
            return new AuthDecision.Refused("no client key: send it as 'Authorization: Bearer <key>', 'x-api-key'"
                    + " or 'api-key'");
        }
        byte[] presentedHash = sha256Hex(presentedKey).getBytes(StandardCharsets.US_ASCII);
        ClientConfig found = null;
        for (ClientConfig client : clients) {
            boolean match;
            Secret key = client.key();
            if (key != null) {
                match = key.matches(presentedKey);
            } else {
                String expected = Objects.requireNonNullElse(client.keySha256(), "").toLowerCase(Locale.ROOT);
                match = MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), presentedHash);
            }
            if (match && found == null) {
                found = client;
            }
        }
        return found != null
                ? new AuthDecision.Admitted(found.name(), found)
                : new AuthDecision.Refused("the client key matches no configured client");
    }

    /** Lowercase hex SHA-256 of the UTF-8 bytes, as {@code key_sha256} holds it. */
    public static String sha256Hex(String value) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(value.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            // Every Java platform must provide SHA-256 (java.security.MessageDigest Javadoc).
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }
}
