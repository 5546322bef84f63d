package io.keymux.core.affinity;

import java.util.List;

/**
 * What the id of a provider object looks like. OpenAI's objects carry a type prefix
 * ({@code file-}, {@code batch_}, {@code resp_}, ...), which is what tells an object id in a path
 * segment from any other segment ({@code /v1/files/file-abc/content}), and an object-creating answer
 * from, say, an embeddings answer. Anthropic's objects carry one too, followed by the {@code 01}
 * that begins each of its ids ({@code file_011CNha8...}, {@code msgbatch_01Hkc...}); its files
 * are matched with that {@code 01}, because OpenAI's paths hold segments such as
 * {@code file_batches} that a bare {@code file_} would take for an id.
 */
public final class ObjectIds {
    /**
     * Files, uploads, batches, responses, conversations, vector stores (and their file batches),
     * assistants, threads, runs, run steps, messages, fine-tuning jobs and checkpoints, containers
     * and their files, evals, stored chat completions; Anthropic's files and message batches.
     */
    static final List<String> PREFIXES = List.of(
            "file-", "upload_", "part_", "batch_", "resp_", "conv_", "vs_", "vsfb_", "asst_", "thread_", "run_",
            "step_", "msg_", "ftjob-", "ftckpt-", "cntr_", "cfile_", "eval_", "evalrun_", "chatcmpl-",
            "file_01", "msgbatch_");

    /** Ids are short; anything longer is not one (and never worth remembering). */
    public static final int MAX_LENGTH = 200;

    private ObjectIds() {}

    /** Whether {@code s} has an object type prefix and something after it. */
    public static boolean looksLikeObjectId(CharSequence s) {
        int n = s.length();
        if (n < 4 || n > MAX_LENGTH) {
            return false;
        }
        char c = s.charAt(0);
        // One cheap test before the prefix list: every prefix starts with one of these letters.
        if (c != 'f' && c != 'u' && c != 'p' && c != 'b' && c != 'r' && c != 'c' && c != 'v' && c != 'a'
                && c != 't' && c != 's' && c != 'm' && c != 'e') {
            return false;
        }
        for (String prefix : PREFIXES) {
            int p = prefix.length();
            if (n > p && regionEquals(s, prefix)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the id is of a stored chat completion, remembered only when the request said {@code store: true}. */
    public static boolean isChatCompletion(CharSequence id) {
        return id.length() > 9 && regionEquals(id, "chatcmpl-");
    }

    private static boolean regionEquals(CharSequence s, String prefix) {
        for (int i = 0; i < prefix.length(); i++) {
            if (s.charAt(i) != prefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
