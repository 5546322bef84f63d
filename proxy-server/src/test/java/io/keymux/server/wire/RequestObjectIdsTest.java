package io.keymux.server.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The ids a request body names and the stable prompt digest, read in the inspector's one pass. */
class RequestObjectIdsTest {

    private static InspectedRequest inspect(String body, boolean digest) {
        return RequestInspector.inspect("application/json", body.getBytes(UTF_8), digest);
    }

    @Test
    void idsAtTheTopAndAtAnyDepthOfInputMessagesAndTools() {
        InspectedRequest r = inspect("""
                {"model":"gpt-4o","previous_response_id":"resp_1","conversation":{"id":"conv_2"},
                 "input":[{"role":"user","content":[{"type":"input_file","file_id":"file-3"},
                                                    {"type":"input_text","text":"summarise"}]}],
                 "tools":[{"type":"file_search","vector_store_ids":["vs_4","vs_5"]},
                          {"type":"code_interpreter","container":{"type":"auto","file_ids":["file-6"]}}],
                 "input_file_id":"file-7","training_file":"file-8","assistant_id":"asst_9","thread_id":"thread_10"}
                """, false);
        assertThat(r.objectIds()).containsExactly("resp_1", "conv_2", "file-3", "vs_4", "vs_5", "file-6", "file-7",
                "file-8", "asst_9", "thread_10");
        // Prompt bytes count as before: only "summarise".
        assertThat(r.promptBytes()).isEqualTo(9);
    }

    @Test
    void aPlainChatRequestNamesNoIdAndHasNoDigestUnlessAsked() {
        String chat = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"store\":true,"
                + "\"prompt_cache_key\":\"user-42\"}";
        InspectedRequest r = inspect(chat, false);
        assertThat(r.objectIds()).isEmpty();
        assertThat(r.promptDigest()).isZero();
        assertThat(r.store()).isTrue();
        assertThat(r.promptCacheKey()).isEqualTo("user-42");
        assertThat(inspect(chat, true).promptDigest()).isNotZero();
    }

    @Test
    void theDigestIsTheSameAsTheConversationGrows() {
        String turn1 = """
                {"model":"m","messages":[{"role":"system","content":"You are a dentist."},
                  {"role":"user","content":"My tooth hurts."}],"tools":[{"type":"function","function":{"name":"book"}}]}
                """;
        String turn3 = """
                {"model":"m","messages":[{"role":"system","content":"You are a dentist."},
                  {"role":"user","content":"My tooth hurts."},{"role":"assistant","content":"Which one?"},
                  {"role":"user","content":"The molar."}],"tools":[{"type":"function","function":{"name":"book"}}]}
                """;
        String other = turn1.replace("dentist", "plumber");
        long d1 = inspect(turn1, true).promptDigest();
        assertThat(inspect(turn3, true).promptDigest()).isEqualTo(d1);
        assertThat(inspect(other, true).promptDigest()).isNotEqualTo(d1);
    }

    @Test
    void responsesInstructionsAndInputDigestAlike() {
        String a = "{\"model\":\"m\",\"instructions\":\"Be brief.\",\"input\":\"Hello\"}";
        String b = "{\"model\":\"m\",\"instructions\":\"Be brief.\",\"input\":\"Hello\",\"max_output_tokens\":9}";
        assertThat(inspect(a, true).promptDigest()).isEqualTo(inspect(b, true).promptDigest()).isNotZero();
    }
}
