package io.keymux.server.affinity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The merge of the keys' pages, the cursors it leaves, and the list query as each key gets it. */
class ListMergeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode item(String id, Object createdAt) {
        return createdAt instanceof String s ? JSON.createObjectNode().put("id", id).put("created_at", s)
                : JSON.createObjectNode().put("id", id).put("created_at", ((Number) createdAt).longValue());
    }

    private static List<String> ids(ListMerge.Result result) {
        List<String> ids = new ArrayList<>();
        result.items().forEach(entry -> ids.add(ListMerge.idOf(entry.item())));
        return ids;
    }

    @Test
    void newestFirstAcrossKeysWithTiesToTheKeyListedFirst() {
        var a = new ListMerge.KeyPage("a", null, List.of(item("a3", 30), item("a1", 10)), false);
        var b = new ListMerge.KeyPage("b", null, List.of(item("b3", 30), item("b2", 20)), false);
        ListMerge.Result r = ListMerge.merge(List.of(a, b), 10, false);
        assertThat(ids(r)).containsExactly("a3", "b3", "b2", "a1");
        assertThat(r.hasMore()).isFalse();
        assertThat(r.cursors()).containsEntry("a", "a1").containsEntry("b", "b2");
    }

    @Test
    void theLimitCutsAndEachKeyStandsAtTheLastObjectItGave() {
        var a = new ListMerge.KeyPage("a", "a9", List.of(item("a5", 50), item("a2", 20)), true);
        var b = new ListMerge.KeyPage("b", null, List.of(item("b4", 40), item("b1", 10)), false);
        var c = new ListMerge.KeyPage("c", null, List.of(), false);
        ListMerge.Result r = ListMerge.merge(List.of(a, b, c), 2, false);
        assertThat(ids(r)).containsExactly("a5", "b4");
        assertThat(r.hasMore()).isTrue();
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("a", "a5");
        expected.put("b", "b4");
        expected.put("c", null);
        assertThat(r.cursors()).containsExactlyEntriesOf(expected);
    }

    @Test
    void aKeyThatHasMoreButRanOutStopsTheMergeRatherThanGuess() {
        // a's next object (not sent) may be newer than b's 40: the page ends after a5.
        var a = new ListMerge.KeyPage("a", null, List.of(item("a5", 50)), true);
        var b = new ListMerge.KeyPage("b", null, List.of(item("b4", 40), item("b1", 10)), false);
        ListMerge.Result r = ListMerge.merge(List.of(a, b), 5, false);
        assertThat(ids(r)).containsExactly("a5");
        assertThat(r.cursors()).containsEntry("a", "a5").containsEntry("b", null);
        assertThat(r.hasMore()).isTrue();
    }

    @Test
    void ascendingOrderAndAnthropicsTimestamps() {
        var a = new ListMerge.KeyPage("a", null, List.of(item("a1", "2026-01-01T00:00:01Z"),
                item("a4", "2026-01-01T00:00:04Z")), false);
        var b = new ListMerge.KeyPage("b", null, List.of(item("b2", "2026-01-01T00:00:02Z")), false);
        assertThat(ids(ListMerge.merge(List.of(a, b), 10, true))).containsExactly("a1", "b2", "a4");
    }

    @Test
    void cursorsThroughAnObjectOfThePage() {
        var a = new ListMerge.KeyPage("a", null, List.of(item("a3", 30), item("a1", 10)), false);
        var b = new ListMerge.KeyPage("b", "b9", List.of(item("b2", 20)), false);
        ListMerge.Result r = ListMerge.merge(List.of(a, b), 10, false);
        Map<String, String> start = new LinkedHashMap<>();
        start.put("a", null);
        start.put("b", "b9");
        assertThat(ListMerge.cursorsThrough(start, r.items(), "a3")).containsEntry("a", "a3").containsEntry("b", "b9");
        assertThat(ListMerge.cursorsThrough(start, r.items(), "b2")).containsEntry("a", "a3").containsEntry("b", "b2");
        assertThat(ListMerge.cursorsThrough(start, r.items(), "zz")).isNull();
    }

    @Test
    void theQueryEachKeyGetsKeepsFiltersAndCarriesItsOwnCursor() {
        ListQuery q = ListQuery.parse("purpose=batch&limit=2&after=file-9&order=asc", false);
        assertThat(q.limit()).isEqualTo(2);
        assertThat(q.after()).isEqualTo("file-9");
        assertThat(q.ascending()).isTrue();
        assertThat(q.forKey("file-3", 2)).isEqualTo("purpose=batch&order=asc&limit=2&after=file-3");
        assertThat(q.forKey(null, null)).isEqualTo("purpose=batch&order=asc");
        assertThat(ListQuery.parse(null, true).forKey("msgbatch_1", 5)).isEqualTo("limit=5&after_id=msgbatch_1");
        // A key of another provider in the same task gets the cursor under its own provider's name.
        assertThat(q.forKey("msgbatch_2", 2, "after_id")).isEqualTo("purpose=batch&order=asc&limit=2&after_id=msgbatch_2");
        assertThat(ListQuery.parse("before_id=x", true).backwards()).isTrue();
        assertThatThrownBy(() -> ListQuery.parse("limit=abc", false)).hasMessage("limit must be a positive whole number");
    }

    @Test
    void listsAreGetsOfCollectionsNamingNoObject() {
        assertThat(ListQuery.isList("GET", "/v1/files", List.of())).isTrue();
        assertThat(ListQuery.isList("GET", "/v1/batches/", List.of())).isTrue();
        assertThat(ListQuery.isList("GET", "/v1/messages/batches", List.of())).isTrue();
        assertThat(ListQuery.isList("POST", "/v1/files", List.of())).isFalse();
        assertThat(ListQuery.isList("GET", "/v1/vector_stores/vs_1/files", List.of("vs_1"))).isFalse();
        assertThat(ListQuery.isList("GET", "/v1/models", List.of())).isFalse();
    }

    @Test
    void storedCursorsRoundTrip() {
        Map<String, String> cursors = new LinkedHashMap<>();
        cursors.put("team a", "file-1&2");
        cursors.put("b", null);
        assertThat(ListCursors.decode(ListCursors.encode(cursors))).containsExactlyEntriesOf(cursors);
    }
}
