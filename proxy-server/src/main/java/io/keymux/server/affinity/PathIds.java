package io.keymux.server.affinity;

import io.keymux.core.affinity.ObjectIds;
import java.util.ArrayList;
import java.util.List;

/**
 * The provider object ids in a request path: every segment that looks like one
 * ({@code /v1/files/file-abc/content}, {@code /v1/threads/thread_1/runs/run_2}), and whether a path
 * is one whose answers create or list objects at all (so other answers are never scanned).
 */
public final class PathIds {
    /** Path parts of the APIs whose objects live under one account. */
    private static final String[] OBJECT_APIS = {"/files", "/uploads", "/batches", "/responses", "/conversations",
        "/vector_stores", "/assistants", "/threads", "/fine_tuning/", "/containers", "/evals"};

    private PathIds() {}

    /** Object ids among the path's segments, first to last; usually none, then no list is made. */
    public static List<String> of(String path) {
        List<String> ids = List.of();
        int n = path.length();
        int start = 0;
        while (start < n) {
            int slash = path.indexOf('/', start);
            int end = slash < 0 ? n : slash;
            if (end - start >= 4 && ObjectIds.looksLikeObjectId(path.subSequence(start, end))) {
                if (ids.isEmpty()) {
                    ids = new ArrayList<>(2);
                }
                ids.add(path.substring(start, end));
            }
            start = end + 1;
        }
        return ids;
    }

    /**
     * Whether answers on this path may create provider objects: the APIs above, and chat completions
     * when the request asked to {@code store} them.
     */
    public static boolean createsObjects(String path, boolean store) {
        for (String api : OBJECT_APIS) {
            if (path.contains(api)) {
                return true;
            }
        }
        return store && path.endsWith("/chat/completions");
    }
}
