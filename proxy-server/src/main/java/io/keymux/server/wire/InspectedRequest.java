package io.keymux.server.wire;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What {@link RequestInspector} learned from a request body in one streaming pass.
 *
 * <p>Only top-level fields are read. Numbers are reported as sent when they are integers that
 * fit a {@code long} (a negative {@code max_tokens} is the upstream's to refuse); anything
 * else is {@code null}.
 *
 * @param json whether the Content-Type is JSON ({@code application/json} or {@code ...+json});
 *     when {@code false} nothing was parsed and the body must pass through untouched
 * @param malformed whether a JSON body failed to parse (or is not a single JSON value); the
 *     body is still forwarded unchanged and the upstream decides
 * @param model the top-level {@code model} string, or {@code null}
 * @param stream whether the top-level {@code stream} is {@code true}
 * @param maxTokens the top-level {@code max_tokens}, or {@code null}
 * @param maxCompletionTokens the top-level {@code max_completion_tokens}, or {@code null}
 * @param maxOutputTokens the top-level {@code max_output_tokens} (Responses API), or {@code null}
 * @param includeUsage whether {@code stream_options.include_usage} is {@code true}
 * @param promptBytes UTF-8 bytes of the prompt text: strings under {@code messages},
 *     {@code prompt}, {@code input}, {@code system} and {@code instructions} that are
 *     {@code content} or {@code text} values or array elements (roles, types, URLs, images and
 *     tool arguments are not counted); 0 when not parsed
 * @param bodyBytes the body's length in bytes
 * @param objectIds provider object ids the body names ({@code previous_response_id}, {@code file_id},
 *     {@code vector_store_ids}, ... at the top level or at any depth of {@code input}, {@code messages}
 *     and {@code tools}), in order of appearance, without repeats
 * @param store whether the top-level {@code store} is {@code true} (a stored chat completion)
 * @param promptCacheKey the top-level {@code prompt_cache_key}, or {@code null}
 * @param promptDigest the digest of the prompt's stable part (instructions or system messages, the
 *     tools, the first user message), 0 when not asked for or when the body has none
 */
public record InspectedRequest(
        boolean json,
        boolean malformed,
        @Nullable String model,
        boolean stream,
        @Nullable Long maxTokens,
        @Nullable Long maxCompletionTokens,
        @Nullable Long maxOutputTokens,
        boolean includeUsage,
        long promptBytes,
        long bodyBytes,
        List<String> objectIds,
        boolean store,
        @Nullable String promptCacheKey,
        long promptDigest) {

    public InspectedRequest {
        objectIds = List.copyOf(Objects.requireNonNull(objectIds, "objectIds"));
    }

    /** What a body that names no object and carries no prompt affinity input is read as. */
    public InspectedRequest(boolean json, boolean malformed, @Nullable String model, boolean stream,
            @Nullable Long maxTokens, @Nullable Long maxCompletionTokens, @Nullable Long maxOutputTokens,
            boolean includeUsage, long promptBytes, long bodyBytes) {
        this(json, malformed, model, stream, maxTokens, maxCompletionTokens, maxOutputTokens, includeUsage,
                promptBytes, bodyBytes, List.of(), false, null, 0);
    }

    /** Bytes per token of the prompt estimate: the usual rule of thumb for English text. */
    public static final int BYTES_PER_TOKEN = 4;

    static InspectedRequest notJson(long bodyBytes) {
        return new InspectedRequest(false, false, null, false, null, null, null, false, 0, bodyBytes);
    }

    static InspectedRequest malformed(long bodyBytes) {
        return new InspectedRequest(true, true, null, false, null, null, null, false, 0, bodyBytes);
    }

    /**
     * A fast estimate of the prompt's tokens for the up-front reservation: {@code promptBytes / 4}
     * rounded up for parsed JSON; {@code bodyBytes / 4} rounded up for malformed JSON (it is
     * still text); 0 for non-JSON bodies, whose uploads (audio, images) are not billed by their
     * byte count. The exact count comes later from the answer's {@code usage}.
     */
    public long promptTokenEstimate() {
        if (!json) {
            return 0;
        }
        long bytes = malformed ? bodyBytes : promptBytes;
        return (bytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
    }

    /**
     * The completion limit the client asked for: {@code max_completion_tokens}, else
     * {@code max_tokens}, else {@code max_output_tokens}; {@code null} when none was sent.
     */
    public @Nullable Long completionLimit() {
        if (maxCompletionTokens != null) {
            return maxCompletionTokens;
        }
        return maxTokens != null ? maxTokens : maxOutputTokens;
    }

    /**
     * Whether keymux should ask the upstream for usage itself ({@link
     * RequestInspector#withIncludeUsage(io.netty.buffer.ByteBuf)}): a well-formed JSON streaming request without
     * {@code stream_options.include_usage: true}. Only meaningful for OpenAI-style
     * completions endpoints, see {@link RequestInspector#acceptsStreamOptions(CharSequence)}.
     */
    public boolean needsIncludeUsage() {
        return json && !malformed && stream && !includeUsage;
    }
}
