package io.keymux.server.affinity;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Where a list union stood after a page (SPEC.md section 3.9): for the page's last object id, each
 * key's cursor, so that the page a client asks for with {@code after=<that id>} continues every key
 * exactly there. Kept in the {@link AffinityStore} (in Redis with the Redis backend, so the next
 * page may go to any replica) under a digest of the task, the list and the id; values are key ids
 * and object ids, never secrets.
 */
public final class ListCursors {
    private final AffinityStore store;

    public ListCursors(AffinityStore store) {
        this.store = Objects.requireNonNull(store, "store");
    }

    /** Remembers that after {@code lastId} in this list, each key stands at {@code cursors}. */
    public void remember(String task, String listIdentity, String lastId, Map<String, @Nullable String> cursors) {
        store.remember(entry(task, listIdentity, lastId), encode(cursors));
    }

    /** The cursors after {@code lastId}, or {@code null} when this list never ended a page there (or it was forgotten). */
    public CompletableFuture<@Nullable Map<String, @Nullable String>> after(String task, String listIdentity,
            String lastId) {
        return store.keyOf(entry(task, listIdentity, lastId)).thenApply(value -> value == null ? null : decode(value));
    }

    private static String entry(String task, String listIdentity, String lastId) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {task, listIdentity, lastId}) {
                sha.update(part.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            return "list-cursor-" + HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JRE has SHA-256", e);
        }
    }

    static String encode(Map<String, @Nullable String> cursors) {
        StringBuilder out = new StringBuilder();
        cursors.forEach((keyId, cursor) -> {
            if (out.length() > 0) {
                out.append('&');
            }
            out.append(URLEncoder.encode(keyId, StandardCharsets.UTF_8)).append('=');
            if (cursor != null) {
                out.append(URLEncoder.encode(cursor, StandardCharsets.UTF_8));
            }
        });
        return out.toString();
    }

    static Map<String, @Nullable String> decode(String value) {
        Map<String, @Nullable String> cursors = new LinkedHashMap<>();
        for (String pair : value.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String cursor = URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            cursors.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                    cursor.isEmpty() ? null : cursor);
        }
        return cursors;
    }
}
