package io.keymux.server.pipeline;

import org.jspecify.annotations.Nullable;

/**
 * What a 2xx answer is charged when its usage never arrives: the client closed the stream after
 * the content and before the usage event, the answer was too large for the usage scanner, or it was
 * compressed. Settling such an answer at zero would let a client spend a key's budget for free, so
 * it is charged the request's prompt estimate (as reserved) plus one completion token per
 * {@value #BYTES_PER_TOKEN} body bytes relayed, at most the request's completion limit when it set
 * one ({@code max_tokens} and alike): the provider cannot have produced more. Counting framing (SSE
 * {@code data:} lines, JSON) errs towards the budget; a client that wants the exact figure lets the
 * usage arrive.
 *
 * @param promptTokens the prompt estimate reserved up front
 * @param completionLimit the request's own completion limit, or {@code null} when it set none
 */
record UsageEstimate(long promptTokens, @Nullable Long completionLimit) {
    /** The usual rule of thumb for English text and JSON (OpenAI's tokenizer guide). */
    static final int BYTES_PER_TOKEN = 4;

    /** Completion tokens for {@code relayedBytes} of answer body. */
    long completionTokens(long relayedBytes) {
        long estimate = (relayedBytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
        Long limit = completionLimit;
        return limit != null && limit >= 0 ? Math.min(estimate, limit) : estimate;
    }
}
