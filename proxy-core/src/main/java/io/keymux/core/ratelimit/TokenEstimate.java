package io.keymux.core.ratelimit;

import org.jspecify.annotations.Nullable;

/**
 * The tokens reserved before a request is sent: the prompt's rough estimate (about four bytes per
 * token, made where the body is read, no tokenizer on the hot path) plus the completion limit the
 * request asks for, else {@link #DEFAULT_MAX_TOKENS}. Settlement corrects the bucket from the
 * answer's real {@code usage}.
 *
 * <pre>{@code
 * long reserve = TokenEstimate.reservation(request.promptTokenEstimate(), request.completionLimit());
 * }</pre>
 */
public final class TokenEstimate {
    /** Completion tokens assumed when the request sets neither {@code max_tokens} nor {@code max_completion_tokens}. */
    public static final long DEFAULT_MAX_TOKENS = 256;

    private TokenEstimate() {}

    /** {@code promptTokens + (completionLimit, else 256)}; negative inputs count as 0. */
    public static long reservation(long promptTokens, @Nullable Long completionLimit) {
        long completion = completionLimit != null ? completionLimit : DEFAULT_MAX_TOKENS;
        return Math.max(0, promptTokens) + Math.max(0, completion);
    }
}
