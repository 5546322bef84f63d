package io.keymux.core.classify;

import java.util.List;

/** The outcome of classifying one request: a task, or why there is none. */
public sealed interface Classification {

    /**
     * The request belongs to {@code task}.
     *
     * @param forwardPath the raw path to forward: the request's, minus a {@code /tasks/{task}} prefix
     * @param source what decided: {@code header}, {@code path}, {@code match} or {@code default}
     */
    record Classified(String task, String forwardPath, String source) implements Classification {}

    /** The header or path prefix named a task that does not exist: 400 {@code unknown_task}. */
    record UnknownTask(String name, List<String> known) implements Classification {
        public UnknownTask {
            known = List.copyOf(known);
        }
    }

    /** Nothing matched and there is no {@code default_task}: 400 {@code no_task_matched}. */
    record NoTaskMatched() implements Classification {}

    /** A malformed or traversing path: 400 {@code bad_request}. */
    record BadRequest(String message) implements Classification {}
}
