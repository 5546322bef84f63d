package io.keymux.server.testing;

import java.util.List;

/**
 * Answers in the providers' own shapes, as they arrive on the wire, each reporting the same usage:
 * 2006 input tokens of which 1920 came from the provider's prompt cache, and 300 output tokens.
 * (Anthropic reports the uncached rest, 86, as {@code input_tokens} and the cached part apart.)
 * The event sequences follow the providers' documented streams: OpenAI's chat stream with
 * {@code stream_options.include_usage}, the Responses API's typed events, Anthropic's messages stream.
 */
public final class ProviderUsagePayloads {
    /** Every input token of each answer, cached ones included. */
    public static final long PROMPT = 2006;
    /** Of those, served from the provider's prompt cache. */
    public static final long CACHED = 1920;
    /** Output tokens of each answer. */
    public static final long COMPLETION = 300;

    private ProviderUsagePayloads() {}

    /** A chat completions stream: role chunk, content chunks, finish chunk, the usage-only chunk, [DONE]. */
    public static List<String> chatStream() {
        String head = "{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\","
                + "\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\","
                + "\"system_fingerprint\":\"fp_f9f4fb6dbf\",";
        return List.of(
                "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                        + "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
                "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The molar\"},\"logprobs\":null,"
                        + "\"finish_reason\":null}],\"usage\":null}\n\n",
                "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" needs a crown.\"},"
                        + "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
                "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                        + "\"usage\":null}\n\n",
                "data: " + head + "\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,"
                        + "\"total_tokens\":2306,\"prompt_tokens_details\":{\"cached_tokens\":1920,\"audio_tokens\":0},"
                        + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                        + "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n",
                "data: [DONE]\n\n");
    }

    /** A non-streamed chat completion. */
    public static String chatBody() {
        return "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion\",\"created\":1741569952,"
                + "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                + "\"content\":\"The molar needs a crown.\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
                + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,"
                + "\"total_tokens\":2306,\"prompt_tokens_details\":{\"cached_tokens\":1920,\"audio_tokens\":0},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                + "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},\"service_tier\":\"default\","
                + "\"system_fingerprint\":\"fp_fc9f1d7035\"}";
    }

    /** An embeddings answer: only {@code prompt_tokens}, no completion. */
    public static String embeddingsBody() {
        return "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.0023064255,"
                + "-0.009327292,-0.0028842222]}],\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8,"
                + "\"total_tokens\":8}}";
    }

    private static String response(String status, String output, String usage) {
        return "{\"id\":\"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\",\"object\":\"response\","
                + "\"created_at\":1741476542,\"status\":\"" + status + "\",\"background\":false,\"error\":null,"
                + "\"incomplete_details\":null,\"instructions\":null,\"max_output_tokens\":null,\"model\":\"gpt-4.1-2025-04-14\","
                + "\"output\":" + output + ",\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                + "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":true,\"temperature\":1.0,"
                + "\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,"
                + "\"truncation\":\"disabled\",\"usage\":" + usage + ",\"user\":null,\"metadata\":{}}";
    }

    private static final String RESPONSE_USAGE = "{\"input_tokens\":2006,\"input_tokens_details\":{\"cached_tokens\":1920},"
            + "\"output_tokens\":300,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":2306}";
    private static final String MESSAGE_ITEM = "{\"type\":\"message\",\"id\":\"msg_67ccd2bf17f0819081ff3bb2cf6508e6\","
            + "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
            + "\"text\":\"The molar needs a crown.\",\"annotations\":[]}]}";

    /** A non-streamed Responses API answer. */
    public static String responsesBody() {
        return response("completed", "[" + MESSAGE_ITEM + "]", RESPONSE_USAGE);
    }

    /**
     * A Responses API stream: {@code response.created}, {@code response.in_progress}, the output item and
     * content part opening, two {@code response.output_text.delta}, the closing events, {@code response.completed}.
     */
    public static List<String> responsesStream() {
        String item = "\"item_id\":\"msg_67ccd2bf17f0819081ff3bb2cf6508e6\",\"output_index\":0,\"content_index\":0";
        return List.of(
                event("response.created", "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":"
                        + response("in_progress", "[]", "null") + "}"),
                event("response.in_progress", "{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":"
                        + response("in_progress", "[]", "null") + "}"),
                event("response.output_item.added", "{\"type\":\"response.output_item.added\",\"sequence_number\":2,"
                        + "\"output_index\":0,\"item\":{\"id\":\"msg_67ccd2bf17f0819081ff3bb2cf6508e6\",\"type\":\"message\","
                        + "\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}"),
                event("response.content_part.added", "{\"type\":\"response.content_part.added\",\"sequence_number\":3,"
                        + item + ",\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}"),
                event("response.output_text.delta", "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,"
                        + item + ",\"delta\":\"The molar\"}"),
                event("response.output_text.delta", "{\"type\":\"response.output_text.delta\",\"sequence_number\":5,"
                        + item + ",\"delta\":\" needs a crown.\"}"),
                event("response.output_text.done", "{\"type\":\"response.output_text.done\",\"sequence_number\":6,"
                        + item + ",\"text\":\"The molar needs a crown.\"}"),
                event("response.content_part.done", "{\"type\":\"response.content_part.done\",\"sequence_number\":7,"
                        + item + ",\"part\":{\"type\":\"output_text\",\"text\":\"The molar needs a crown.\",\"annotations\":[]}}"),
                event("response.output_item.done", "{\"type\":\"response.output_item.done\",\"sequence_number\":8,"
                        + "\"output_index\":0,\"item\":" + MESSAGE_ITEM + "}"),
                event("response.completed", "{\"type\":\"response.completed\",\"sequence_number\":9,\"response\":"
                        + response("completed", "[" + MESSAGE_ITEM + "]", RESPONSE_USAGE) + "}"));
    }

    /** A non-streamed Anthropic message. */
    public static String anthropicBody() {
        return "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
                + "\"content\":[{\"type\":\"text\",\"text\":\"The molar needs a crown.\"}],\"stop_reason\":\"end_turn\","
                + "\"stop_sequence\":null,\"usage\":{\"input_tokens\":86,\"cache_creation_input_tokens\":0,"
                + "\"cache_read_input_tokens\":1920,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
                + "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":300,\"service_tier\":\"standard\"}}";
    }

    /**
     * An Anthropic messages stream: {@code message_start} (input and cache counters),
     * {@code content_block_start}, {@code ping}, two {@code content_block_delta}, {@code content_block_stop},
     * {@code message_delta} (output tokens), {@code message_stop}.
     */
    public static List<String> anthropicStream() {
        return List.of(
                event("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
                        + "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\","
                        + "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":86,"
                        + "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1920,\"cache_creation\":"
                        + "{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,"
                        + "\"service_tier\":\"standard\"}}}"),
                event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                        + "{\"type\":\"text\",\"text\":\"\"}}"),
                event("ping", "{\"type\": \"ping\"}"),
                event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                        + "{\"type\":\"text_delta\",\"text\":\"The molar\"}}"),
                event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                        + "{\"type\":\"text_delta\",\"text\":\" needs a crown.\"}}"),
                event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"),
                event("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                        + "\"stop_sequence\":null},\"usage\":{\"output_tokens\":300}}"),
                event("message_stop", "{\"type\":\"message_stop\"}"));
    }

    /** A Realtime {@code response.done} server event (one WebSocket text frame). */
    public static String realtimeResponseDone() {
        return "{\"type\":\"response.done\",\"event_id\":\"event_3132\",\"response\":{\"object\":\"realtime.response\","
                + "\"id\":\"resp_001\",\"status\":\"completed\",\"status_details\":null,\"output\":[{\"id\":\"msg_006\","
                + "\"object\":\"realtime.item\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\","
                + "\"content\":[{\"type\":\"text\",\"text\":\"The molar needs a crown.\"}]}],\"usage\":{\"total_tokens\":2306,"
                + "\"input_tokens\":2006,\"output_tokens\":300,\"input_token_details\":{\"text_tokens\":2006,"
                + "\"audio_tokens\":0,\"cached_tokens\":1920,\"cached_tokens_details\":{\"text_tokens\":1920,"
                + "\"audio_tokens\":0}},\"output_token_details\":{\"text_tokens\":300,\"audio_tokens\":0}}}}";
    }

    private static String event(String name, String data) {
        return "event: " + name + "\ndata: " + data + "\n\n";
    }
}
