package io.keymux.server.wire;

import org.jspecify.annotations.Nullable;

/**
 * Token counts an upstream reported for one answer; a count the answer did not report is
 * {@code null}.
 *
 * <p>{@code promptTokens} is OpenAI's {@code usage.prompt_tokens} or Anthropic's and the
 * Responses API's {@code usage.input_tokens}; {@code completionTokens} is
 * {@code usage.completion_tokens} or {@code usage.output_tokens}. Anthropic's cache counters
 * ({@code cache_read_input_tokens}, {@code cache_creation_input_tokens}) are not added in.
 *
 * @param promptTokens tokens of the prompt, or {@code null} if not reported
 * @param completionTokens tokens generated, or {@code null} if not reported
 */
public record TokenUsage(@Nullable Long promptTokens, @Nullable Long completionTokens) {

    /** Nothing reported (no usage, or a body that could not be parsed). */
    public static final TokenUsage UNKNOWN = new TokenUsage(null, null);

    /** Whether both counts were reported. */
    public boolean isComplete() {
        return promptTokens != null && completionTokens != null;
    }

    /** Whether neither count was reported. */
    public boolean isUnknown() {
        return promptTokens == null && completionTokens == null;
    }
}
