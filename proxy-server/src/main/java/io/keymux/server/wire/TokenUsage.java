package io.keymux.server.wire;

import org.jspecify.annotations.Nullable;

/**
 * Token counts an upstream reported for one answer; a count the answer did not report is
 * {@code null}.
 *
 * <p>{@code promptTokens} counts every input token, as OpenAI's {@code usage.prompt_tokens} and the
 * Responses API's {@code usage.input_tokens} do. Anthropic's {@code input_tokens} leaves out the
 * tokens read from or written to its prompt cache, so for Anthropic it is {@code input_tokens +
 * cache_read_input_tokens + cache_creation_input_tokens}. {@code completionTokens} is
 * {@code usage.completion_tokens} or {@code usage.output_tokens}.
 *
 * <p>{@code cachedPromptTokens} is the part of {@code promptTokens} the provider served from its
 * prompt cache ({@code prompt_tokens_details.cached_tokens}, {@code input_tokens_details.cached_tokens},
 * Realtime's {@code input_token_details.cached_tokens}, Anthropic's {@code cache_read_input_tokens});
 * 0 when none was reported, and never more than {@code promptTokens}.
 *
 * @param promptTokens tokens of the prompt, cached ones included, or {@code null} if not reported
 * @param completionTokens tokens generated, or {@code null} if not reported
 * @param cachedPromptTokens of the prompt tokens, those served from the provider's prompt cache
 */
public record TokenUsage(@Nullable Long promptTokens, @Nullable Long completionTokens, long cachedPromptTokens) {

    /** Nothing reported (no usage, or a body that could not be parsed). */
    public static final TokenUsage UNKNOWN = new TokenUsage(null, null, 0);

    public TokenUsage {
        if (cachedPromptTokens < 0) {
            throw new IllegalArgumentException("cachedPromptTokens: " + cachedPromptTokens + " (expected: >= 0)");
        }
        if (promptTokens != null && cachedPromptTokens > promptTokens) {
            throw new IllegalArgumentException("cachedPromptTokens: " + cachedPromptTokens
                    + " (expected: <= promptTokens " + promptTokens + ")");
        }
    }

    /** Counts without any cached prompt tokens. */
    public TokenUsage(@Nullable Long promptTokens, @Nullable Long completionTokens) {
        this(promptTokens, completionTokens, 0);
    }

    /** Whether both counts were reported. */
    public boolean isComplete() {
        return promptTokens != null && completionTokens != null;
    }

    /** Whether neither count was reported. */
    public boolean isUnknown() {
        return promptTokens == null && completionTokens == null;
    }
}
