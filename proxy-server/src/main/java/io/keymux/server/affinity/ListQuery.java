package io.keymux.server.affinity;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * A list request's query as the union needs it (SPEC.md section 3.9): the page size, the cursor
 * ({@code after}, or Anthropic's {@code after_id}), the order, and everything else (filters such
 * as {@code purpose}), which goes to every key unchanged.
 *
 * <pre>{@code
 * ListQuery q = ListQuery.parse("purpose=batch&limit=2&after=file-9");
 * q.limit();                        // 2
 * q.after();                        // "file-9"
 * q.forKey("file-3", 2);            // "purpose=batch&limit=2&after=file-3"
 * }</pre>
 *
 * @param filters the other pairs, raw, in the client's order
 * @param limit the client's {@code limit}, or {@code null} (each provider's own default page)
 * @param after the client's cursor, decoded, or {@code null} (the first page)
 * @param cursorName {@code after} or {@code after_id}
 * @param ascending {@code order=asc}
 * @param backwards the client sent {@code before} or {@code before_id}
 */
public record ListQuery(List<String> filters, @Nullable Integer limit, @Nullable String after, String cursorName,
        boolean ascending, boolean backwards) {

    /** The largest page keymux asks a key for while it looks for a cursor it does not know. */
    public static final int SEEK_PAGE = 100;

    /** The list paths answered as a union over the task's keys (a trailing slash allowed). */
    private static final String[] LIST_PATHS = {"/files", "/batches", "/vector_stores", "/assistants",
        "/fine_tuning/jobs", "/containers", "/chat/completions", "/evals", "/messages/batches"};

    public ListQuery {
        filters = List.copyOf(filters);
    }

    /**
     * Whether a request lists provider objects: a {@code GET} of one of the collections above,
     * naming no object id in its path (then it is the object's, or a list under it, and its key's).
     */
    public static boolean isList(String method, String path, List<String> pathIds) {
        if (!"GET".equals(method) || !pathIds.isEmpty()) {
            return false;
        }
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        for (String list : LIST_PATHS) {
            if (p.endsWith(list)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Parses a raw query ({@code null}: none); {@code anthropicCursor} picks {@code after_id} when
     * the client named no cursor.
     *
     * @throws IllegalArgumentException when {@code limit} is not a positive number (the message
     *     says so and echoes nothing)
     */
    public static ListQuery parse(@Nullable String rawQuery, boolean anthropicCursor) {
        List<String> filters = new ArrayList<>();
        Integer limit = null;
        String after = null;
        String cursorName = anthropicCursor ? "after_id" : "after";
        boolean ascending = false;
        boolean backwards = false;
        if (rawQuery != null && !rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                switch (name) {
                    case "limit" -> limit = positive(value);
                    case "after", "after_id" -> {
                        after = value.isEmpty() ? null : value;
                        cursorName = name;
                    }
                    case "before", "before_id" -> backwards = true;
                    case "order" -> {
                        ascending = "asc".equals(value.toLowerCase(Locale.ROOT));
                        filters.add(pair);
                    }
                    default -> filters.add(pair);
                }
            }
        }
        return new ListQuery(filters, limit, after, cursorName, ascending, backwards);
    }

    private static int positive(String value) {
        try {
            int n = Integer.parseInt(value.trim());
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("limit must be a positive whole number");
    }

    /** The query one key gets: the filters, {@code limit} (when any) and its own cursor (when any). */
    public String forKey(@Nullable String cursor, @Nullable Integer pageSize) {
        return forKey(cursor, pageSize, cursorName);
    }

    /**
     * {@link #forKey(String, Integer)} with the cursor under {@code keyCursorName}, the name the key's
     * own provider pages with ({@code after} for OpenAI's API, {@code after_id} for Anthropic's), so a
     * task whose keys go to different providers gives each the parameter it understands.
     */
    public String forKey(@Nullable String cursor, @Nullable Integer pageSize, String keyCursorName) {
        StringBuilder q = new StringBuilder();
        for (String filter : filters) {
            append(q, filter);
        }
        if (pageSize != null) {
            append(q, "limit=" + pageSize);
        }
        if (cursor != null) {
            append(q, keyCursorName + "=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
        }
        return q.toString();
    }

    /** What identifies the list apart from its page: the path and the filters (the cursor store's key part). */
    public String listIdentity(String path) {
        return path + "?" + String.join("&", filters);
    }

    private static void append(StringBuilder q, String pair) {
        if (q.length() > 0) {
            q.append('&');
        }
        q.append(pair);
    }

    private static String decode(String raw) {
        try {
            return URLDecoder.decode(raw, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return raw; // a stray '%': keep it as sent
        }
    }
}
