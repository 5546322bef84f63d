package io.keymux.core.ratelimit;

import org.jspecify.annotations.Nullable;

/**
 * The fast, deliberately rough token estimate reserved before a request is sent: about four bytes
 * per prompt token (no tokenizer on the hot path) plus the completion limit the request asks for.
 * Settlement corrects the bucket from the answer's real {@code usage}.
 *
 * <pre>{@code
 * long estimate = TokenEstimate.of(body.length, maxTokens, TokenEstimate.DEFAULT_MAX_TOKENS);
 * }</pre>
 */
public final class TokenEstimate {
    /** Completion tokens assumed when the request sets neither {@code max_tokens} nor {@code max_completion_tokens}. */
    public static final long DEFAULT_MAX_TOKENS = 256;

    private TokenEstimate() {}

    /** {@code ceil(promptBytes / 4) + (maxTokens, else defaultMaxTokens)}; negative inputs count as 0. */
    public static long of(long promptBytes, @Nullable Long maxTokens, long defaultMaxTokens) {
        long prompt = Math.max(0, promptBytes);
        long completion = maxTokens != null ? maxTokens : defaultMaxTokens;
        return (prompt + 3) / 4 + Math.max(0, completion);
    }
}
