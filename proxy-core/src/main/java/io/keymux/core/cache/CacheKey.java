package io.keymux.core.cache;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The identity of a cacheable request: the SHA-256 of its task, scope, method, forwarded path and
 * query, and canonical JSON body. Only the 32-byte digest is kept, so neither {@link #toString()} nor
 * a heap dump of the cache shows a prompt or a client name, and no secret is ever an input.
 *
 * <pre>{@code
 * CacheKey key = CacheKey.of("chat", "client:app", "POST", "/v1/chat/completions", canonicalBody);
 * }</pre>
 */
public final class CacheKey {
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(CacheKey::newDigest);
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] digest;
    private final int hash;

    private CacheKey(byte[] digest) {
        this.digest = digest;
        this.hash = Arrays.hashCode(digest);
    }

    /**
     * The key of one request.
     *
     * @param task the task's name
     * @param scope who may share the answer, for example {@code client:app}, {@code task} or {@code global}
     * @param method the HTTP method
     * @param pathAndQuery the forwarded path and query (after a {@code /tasks/{task}} prefix is stripped)
     * @param canonicalBody the body in one canonical form (the server sorts keys and drops whitespace)
     */
    public static CacheKey of(String task, String scope, String method, String pathAndQuery, byte[] canonicalBody) {
        MessageDigest sha = SHA256.get();
        sha.reset();
        // Each field with its length first, so no two different field lists hash the same bytes.
        field(sha, task.getBytes(StandardCharsets.UTF_8));
        field(sha, scope.getBytes(StandardCharsets.UTF_8));
        field(sha, method.getBytes(StandardCharsets.UTF_8));
        field(sha, pathAndQuery.getBytes(StandardCharsets.UTF_8));
        field(sha, Objects.requireNonNull(canonicalBody, "canonicalBody"));
        return new CacheKey(sha.digest());
    }

    private static void field(MessageDigest sha, byte[] bytes) {
        sha.update(ByteBuffer.allocate(4).putInt(bytes.length).array());
        sha.update(bytes);
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** The digest as lowercase hex. */
    public String hex() {
        return HEX.formatHex(digest);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CacheKey other && hash == other.hash && MessageDigest.isEqual(digest, other.digest);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return "CacheKey[sha256:" + hex().substring(0, 16) + "]";
    }
}
