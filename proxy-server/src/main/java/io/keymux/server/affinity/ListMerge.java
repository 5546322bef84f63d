package io.keymux.server.affinity;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The union of several keys' pages of one list (SPEC.md section 3.9), as a merge of sorted lists:
 * each key's page is already in the list's order (newest first, or oldest first with
 * {@code order=asc}), so the union is their merge by {@code created_at}, ties going to the key
 * listed first in the config. Where the union stops, each key stands at the last object it gave
 * (its cursor): the next page continues every key from there, which is why paging the union has
 * no gaps and no repeats whatever the page size.
 *
 * <pre>{@code
 * ListMerge.Result r = ListMerge.merge(pages, 20, false);
 * r.items();      // up to 20 objects, newest first, across keys
 * r.cursors();    // key_id -> the last object id taken from it (null: none yet)
 * r.hasMore();    // whether any key has more
 * }</pre>
 *
 * Pure: no I/O, no clock.
 */
public final class ListMerge {
    private ListMerge() {}

    /**
     * One key's page.
     *
     * @param keyId the key it came from
     * @param cursor where this key stood before the page (the last id taken from it), or {@code null}
     * @param items the page's objects, in the list's order
     * @param hasMore whether the key said it has more after them
     */
    public record KeyPage(String keyId, @Nullable String cursor, List<JsonNode> items, boolean hasMore) {
        public KeyPage {
            Objects.requireNonNull(keyId, "keyId");
            items = List.copyOf(items);
        }
    }

    /** One object of the union and the key it came from. */
    public record Entry(JsonNode item, String keyId) {}

    /**
     * A page of the union.
     *
     * @param items the objects, in the list's order
     * @param cursors each key's cursor after these items (insertion order: the config's key order)
     * @param hasMore whether the union goes on after them
     */
    public record Result(List<Entry> items, Map<String, @Nullable String> cursors, boolean hasMore) {}

    /**
     * Merges {@code pages} (in the config's key order) into at most {@code limit} objects. The merge
     * stops early where a key that has more ran out of the objects it sent: what it holds next
     * could come first, so the union is cut there (with {@code has_more}) rather than guessed.
     */
    public static Result merge(List<KeyPage> pages, int limit, boolean ascending) {
        int n = pages.size();
        int[] next = new int[n];
        Map<String, @Nullable String> cursors = new LinkedHashMap<>();
        for (KeyPage page : pages) {
            cursors.put(page.keyId(), page.cursor());
        }
        List<Entry> out = new ArrayList<>(Math.min(limit, 128));
        while (out.size() < limit) {
            int best = -1;
            long bestAt = 0;
            boolean blocked = false;
            for (int k = 0; k < n; k++) {
                KeyPage page = pages.get(k);
                if (next[k] >= page.items().size()) {
                    blocked |= page.hasMore();
                    continue;
                }
                long at = createdAt(page.items().get(next[k]));
                if (best < 0 || (ascending ? at < bestAt : at > bestAt)) {
                    best = k;
                    bestAt = at;
                }
            }
            if (best < 0 || blocked) {
                break;
            }
            KeyPage page = pages.get(best);
            JsonNode item = page.items().get(next[best]++);
            out.add(new Entry(item, page.keyId()));
            String id = idOf(item);
            if (id != null) {
                cursors.put(page.keyId(), id);
            }
        }
        boolean hasMore = false;
        for (int k = 0; k < n; k++) {
            KeyPage page = pages.get(k);
            hasMore |= page.hasMore() || next[k] < page.items().size();
        }
        return new Result(List.copyOf(out), cursors, hasMore);
    }

    /**
     * The cursors right after the union's object {@code id} in {@code result}, or {@code null} when
     * the page does not hold it: {@code start} (the cursors before the page) moved by every object
     * up to and including it.
     */
    public static @Nullable Map<String, @Nullable String> cursorsThrough(Map<String, @Nullable String> start,
            List<Entry> items, String id) {
        Map<String, @Nullable String> cursors = new LinkedHashMap<>(start);
        for (Entry entry : items) {
            String itemId = idOf(entry.item());
            if (itemId != null) {
                cursors.put(entry.keyId(), itemId);
            }
            if (id.equals(itemId)) {
                return cursors;
            }
        }
        return null;
    }

    /** The object's {@code id}, or {@code null}. */
    public static @Nullable String idOf(JsonNode item) {
        JsonNode id = item.get("id");
        return id != null && id.isTextual() ? id.asText() : null;
    }

    /**
     * The object's {@code created_at} in epoch milliseconds: Unix seconds (OpenAI), milliseconds,
     * or an RFC 3339 time (Anthropic); {@code 0} when it has none, so such objects sort last.
     */
    static long createdAt(JsonNode item) {
        JsonNode at = item.get("created_at");
        if (at == null) {
            return 0;
        }
        if (at.isNumber()) {
            long value = at.asLong();
            // Seconds until the year 5138; anything larger is already milliseconds.
            return value < 100_000_000_000L ? value * 1000 : value;
        }
        if (at.isTextual()) {
            try {
                return Instant.parse(at.asText()).toEpochMilli();
            } catch (DateTimeParseException e) {
                return 0;
            }
        }
        return 0;
    }
}
