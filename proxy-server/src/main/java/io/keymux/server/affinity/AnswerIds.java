package io.keymux.server.affinity;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.keymux.core.affinity.ObjectIds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The ids of the provider objects an answer holds: a JSON object's top-level {@code id} (and an
 * upload's finished {@code file.id}), every {@code data[].id} of a list, or a Responses stream's
 * {@code response.created} event's {@code response.id}. Only ids that look like provider objects
 * count ({@link ObjectIds}).
 */
public final class AnswerIds {
    private static final JsonFactory JSON = JsonFactory.builder().build();
    private static final byte[] CREATED = "response.created".getBytes(StandardCharsets.US_ASCII);

    private AnswerIds() {}

    /** Ids in a JSON answer (possibly cut short: what was read before the cut counts). */
    public static List<String> ofJson(byte[] body, int length) {
        List<String> ids = new ArrayList<>(1);
        try (JsonParser p = JSON.createParser(body, 0, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return ids;
            }
            object(p, ids, true);
        } catch (IOException cut) {
            // A body longer than the copy, or not JSON after all: keep what was found.
        }
        return ids;
    }

    private static void object(JsonParser p, List<String> ids, boolean top) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (name.equals("id") && v == JsonToken.VALUE_STRING) {
                add(ids, p.getText());
            } else if (top && (name.equals("file") || name.equals("response")) && v == JsonToken.START_OBJECT) {
                object(p, ids, false);
            } else if (top && name.equals("data") && v == JsonToken.START_ARRAY) {
                JsonToken t;
                while ((t = p.nextToken()) == JsonToken.START_OBJECT) {
                    object(p, ids, false);
                }
                if (t != JsonToken.END_ARRAY) {
                    p.skipChildren();
                }
            } else {
                p.skipChildren();
            }
        }
    }

    /** The response id of the first {@code response.created} event in an event stream's first bytes. */
    public static List<String> ofEventStream(byte[] body, int length) {
        int at = indexOf(body, length, CREATED, 0);
        if (at < 0) {
            return List.of();
        }
        int lineStart = at;
        while (lineStart > 0 && body[lineStart - 1] != '\n') {
            lineStart--;
        }
        int lineEnd = at;
        while (lineEnd < length && body[lineEnd] != '\n') {
            lineEnd++;
        }
        int data = lineStart;
        if (lineEnd - data > 5 && body[data] == 'd' && body[data + 4] == ':') {
            data += 5;
        } else {
            return List.of();
        }
        List<String> ids = new ArrayList<>(1);
        try (JsonParser p = JSON.createParser(body, data, lineEnd - data)) {
            if (p.nextToken() == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken v = p.nextToken();
                    if (name.equals("response") && v == JsonToken.START_OBJECT) {
                        object(p, ids, false);
                    } else {
                        p.skipChildren();
                    }
                }
            }
        } catch (IOException malformed) {
            // Not the event we look for.
        }
        return ids;
    }

    private static void add(List<String> ids, String id) {
        if (ObjectIds.looksLikeObjectId(id) && !ids.contains(id)) {
            ids.add(id);
        }
    }

    private static int indexOf(byte[] hay, int length, byte[] needle, int from) {
        outer:
        for (int i = from; i <= length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
