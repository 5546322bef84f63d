package io.keymux.server.wire;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.keymux.core.affinity.PromptDigest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Reads what the pipeline needs from a request body in one pass of Jackson's streaming
 * parser, and adds {@code stream_options.include_usage} to streaming requests.
 *
 * <p>The same pass collects what provider-object affinity needs (SPEC.md section 3.9): the ids the
 * body names ({@code previous_response_id}, {@code file_id}, ... at the top level and at any depth of
 * {@code input}/{@code messages}/{@code tools}), {@code store}, {@code prompt_cache_key}, and, when
 * asked, the digest of the prompt's stable part. Field names are compared as the parser meets them,
 * so a body that names no id costs nothing more than before.
 *
 * <pre>{@code
 * InspectedRequest req = RequestInspector.inspect(headers.get(CONTENT_TYPE), body);
 * long reserve = req.promptTokenEstimate() + Objects.requireNonNullElse(req.completionLimit(), 0L);
 * if (req.needsIncludeUsage() && RequestInspector.acceptsStreamOptions(path)) {
 *     ByteBuf upstreamBody = RequestInspector.withIncludeUsage(body); // caller releases it
 * }
 * }</pre>
 *
 * <p>Nothing here throws on bad input: a malformed JSON body is reported as
 * {@link InspectedRequest#malformed()} and still forwarded unchanged, so keymux never answers
 * 500 for what the upstream should judge.
 */
public final class RequestInspector {

    private static final byte[] STREAM_OPTIONS_FIELD =
            "\"stream_options\":{\"include_usage\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] STREAM_OPTIONS_OBJECT =
            "{\"include_usage\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] INCLUDE_USAGE_FIELD = "\"include_usage\":true".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRUE = "true".getBytes(StandardCharsets.US_ASCII);

    private RequestInspector() {}

    /**
     * Whether a Content-Type value names JSON: {@code application/json} or any
     * {@code type/subtype+json}, case-insensitive, parameters ignored. {@code null} is not JSON.
     */
    public static boolean isJson(@Nullable CharSequence contentType) {
        if (contentType == null) {
            return false;
        }
        String value = contentType.toString();
        int end = value.indexOf(';');
        if (end < 0) {
            end = value.length();
        }
        int start = 0;
        while (start < end && Character.isWhitespace(value.charAt(start))) {
            start++;
        }
        while (end > start && Character.isWhitespace(value.charAt(end - 1))) {
            end--;
        }
        String json = "application/json";
        int len = end - start;
        if (len == json.length() && value.regionMatches(true, start, json, 0, len)) {
            return true;
        }
        return len > 5
                && value.regionMatches(true, end - 5, "+json", 0, 5)
                && value.indexOf('/', start) > start
                && value.indexOf('/', start) < end - 5;
    }

    /**
     * Whether an upstream path takes OpenAI's {@code stream_options}: chat completions and
     * legacy completions ({@code .../chat/completions}, {@code .../completions}). Anthropic's
     * {@code /v1/messages} refuses unknown fields, so it must not get them.
     */
    public static boolean acceptsStreamOptions(CharSequence path) {
        String p = requireNonNull(path, "path").toString();
        int q = p.indexOf('?');
        if (q >= 0) {
            p = p.substring(0, q);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p.endsWith("/completions");
    }

    /**
     * Inspects {@code body} without changing its reader index or reference count.
     *
     * @param contentType the request's Content-Type header value, or {@code null} if absent
     * @param body the complete request body
     */
    public static InspectedRequest inspect(@Nullable CharSequence contentType, ByteBuf body) {
        return inspect(contentType, body, false);
    }

    /** As {@link #inspect(CharSequence, ByteBuf)}; {@code digestPrompt}: also digest the prompt's stable part. */
    public static InspectedRequest inspect(@Nullable CharSequence contentType, ByteBuf body, boolean digestPrompt) {
        requireNonNull(body, "body");
        int length = body.readableBytes();
        if (!isJson(contentType)) {
            return InspectedRequest.notJson(length);
        }
        try (JsonParser p = WireJson.parser(body)) {
            return new Scan(digestPrompt).read(p, length);
        } catch (IOException malformed) {
            // Includes Jackson's stream constraints (nesting, string length) and bad UTF-8.
            return InspectedRequest.malformed(length);
        }
    }

    /** As {@link #inspect(CharSequence, ByteBuf)} for a byte array. */
    public static InspectedRequest inspect(@Nullable CharSequence contentType, byte[] body) {
        return inspect(contentType, body, false);
    }

    /** As {@link #inspect(CharSequence, byte[])}; {@code digestPrompt}: also digest the prompt's stable part. */
    public static InspectedRequest inspect(@Nullable CharSequence contentType, byte[] body, boolean digestPrompt) {
        requireNonNull(body, "body");
        if (!isJson(contentType)) {
            return InspectedRequest.notJson(body.length);
        }
        try (JsonParser p = WireJson.FACTORY.createParser(body)) {
            return new Scan(digestPrompt).read(p, body.length);
        } catch (IOException malformed) {
            return InspectedRequest.malformed(body.length);
        }
    }

    private static boolean readIncludeUsage(JsonParser p, JsonToken value) throws IOException {
        if (value != JsonToken.START_OBJECT) {
            p.skipChildren();
            return false;
        }
        boolean include = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (name.equals("include_usage")) {
                include = v == JsonToken.VALUE_TRUE;
            }
            p.skipChildren();
        }
        return include;
    }

    /** Whether a field (at any depth of a request) names provider objects by id (SPEC.md section 3.9). */
    static boolean isIdField(String name) {
        return switch (name) {
            case "previous_response_id", "conversation", "file_id", "file_ids", "input_file_id", "vector_store_ids",
                    "assistant_id", "thread_id", "training_file", "validation_file", "container" -> true;
            default -> false;
        };
    }

    /** One pass over one body: the fields read so far, the ids named, the digest. Not shared. */
    private static final class Scan {
        private @Nullable List<String> ids;
        /** The digest of the stable part, when asked for. */
        private final @Nullable PromptDigest digest;
        /** Where counted prompt text goes now (the digest, a message's own digest, or nowhere). */
        private @Nullable PromptDigest sink;
        private boolean sawFirstUser;

        Scan(boolean digestPrompt) {
            this.digest = digestPrompt ? new PromptDigest() : null;
        }

        InspectedRequest read(JsonParser p, long length) throws IOException {
            JsonToken first = p.nextToken();
            if (first == null) {
                // An empty JSON body: nothing to learn, nothing wrong for keymux to report.
                return new InspectedRequest(true, false, null, false, null, null, null, false, 0, length);
            }
            if (first != JsonToken.START_OBJECT) {
                p.skipChildren();
                boolean single = p.nextToken() == null;
                return new InspectedRequest(true, !single, null, false, null, null, null, false, 0, length);
            }
            String model = null;
            boolean stream = false;
            Long maxTokens = null;
            Long maxCompletionTokens = null;
            Long maxOutputTokens = null;
            boolean includeUsage = false;
            long promptBytes = 0;
            boolean store = false;
            String promptCacheKey = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                switch (name) {
                    case "model" -> {
                        model = value == JsonToken.VALUE_STRING ? p.getText() : null;
                        p.skipChildren();
                    }
                    case "stream" -> stream = value == JsonToken.VALUE_TRUE;
                    case "max_tokens" -> maxTokens = UsageFields.longValue(p, value);
                    case "max_completion_tokens" -> maxCompletionTokens = UsageFields.longValue(p, value);
                    case "max_output_tokens" -> maxOutputTokens = UsageFields.longValue(p, value);
                    case "stream_options" -> includeUsage = readIncludeUsage(p, value);
                    case "store" -> store = value == JsonToken.VALUE_TRUE;
                    case "prompt_cache_key" -> {
                        promptCacheKey = value == JsonToken.VALUE_STRING ? p.getText() : null;
                        p.skipChildren();
                    }
                    // The stable part: instructions and system prompts count whole.
                    case "system", "instructions" -> {
                        sink = digest;
                        promptBytes += textBytes(p, value, true);
                        sink = null;
                    }
                    case "prompt" -> promptBytes += textBytes(p, value, true);
                    case "messages", "input" -> promptBytes += promptItems(p, value);
                    case "tools" -> tools(p, value);
                    default -> {
                        if (isIdField(name)) {
                            ids(p, value);
                        } else {
                            p.skipChildren();
                        }
                    }
                }
            }
            if (p.nextToken() != null) {
                // A second top-level value: not one JSON document.
                return InspectedRequest.malformed(length);
            }
            long promptDigest = digest == null || digest.isEmpty() ? 0 : digest.value();
            return new InspectedRequest(
                    true, false, model, stream, maxTokens, maxCompletionTokens, maxOutputTokens, includeUsage,
                    promptBytes, length, ids == null ? List.of() : List.copyOf(ids), store, promptCacheKey,
                    promptDigest);
        }

        /**
         * {@code messages} or {@code input}: a string is the first user message; in a list, each
         * message's text goes to a digest of its own, kept when its role is {@code system} or
         * {@code developer}, or when it is the first {@code user} message (a role may come after
         * the content, so the choice is made at the message's end).
         */
        private long promptItems(JsonParser p, JsonToken token) throws IOException {
            if (token == JsonToken.VALUE_STRING) {
                sink = digest;
                sawFirstUser = true;
                long n = textBytes(p, token, true);
                sink = null;
                return n;
            }
            if (token != JsonToken.START_ARRAY) {
                return textBytes(p, token, true);
            }
            long sum = 0;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
                if (t != JsonToken.START_OBJECT) {
                    sum += textBytes(p, t, true);
                    continue;
                }
                PromptDigest own = digest == null ? null : new PromptDigest();
                String role = null;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken v = p.nextToken();
                    if (name.equals("role") && v == JsonToken.VALUE_STRING) {
                        role = p.getText();
                        continue;
                    }
                    if (isIdField(name)) {
                        ids(p, v);
                        continue;
                    }
                    sink = own;
                    sum += textBytes(p, v, name.equals("content") || name.equals("text"));
                    sink = null;
                }
                if (own != null && role != null && !own.isEmpty()) {
                    boolean system = role.equals("system") || role.equals("developer");
                    boolean firstUser = role.equals("user") && !sawFirstUser;
                    if (system || firstUser) {
                        Objects.requireNonNull(digest).add(Long.toHexString(own.value()));
                    }
                }
                if ("user".equals(role)) {
                    sawFirstUser = true;
                }
            }
            return sum;
        }

        /** {@code tools}: not prompt text for the estimate, but part of the stable prefix, and may name ids. */
        private void tools(JsonParser p, JsonToken token) throws IOException {
            walk(p, token, digest);
        }

        /** Any value: ids under id fields; every name and scalar to {@code to} when given. */
        private void walk(JsonParser p, JsonToken token, @Nullable PromptDigest to) throws IOException {
            switch (token) {
                case START_OBJECT -> {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        JsonToken v = p.nextToken();
                        if (to != null) {
                            to.add(name);
                        }
                        if (isIdField(name) && (v == JsonToken.VALUE_STRING || v == JsonToken.START_ARRAY)) {
                            ids(p, v);
                        } else {
                            walk(p, v, to);
                        }
                    }
                }
                case START_ARRAY -> {
                    JsonToken t;
                    while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
                        walk(p, t, to);
                    }
                }
                default -> {
                    if (to != null && token.isScalarValue()) {
                        to.add(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                    }
                }
            }
        }

        /** The value of an id field: a string, a list of strings, or an object with an {@code id}. */
        private void ids(JsonParser p, JsonToken token) throws IOException {
            switch (token) {
                case VALUE_STRING -> addId(p.getText());
                case START_ARRAY -> {
                    JsonToken t;
                    while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
                        if (t == JsonToken.VALUE_STRING) {
                            addId(p.getText());
                        } else {
                            p.skipChildren();
                        }
                    }
                }
                case START_OBJECT -> {
                    // conversation: {"id": "conv_..."}; a container: {"type": "auto", "file_ids": [...]}.
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        JsonToken v = p.nextToken();
                        if (name.equals("id") || isIdField(name)) {
                            ids(p, v);
                        } else {
                            p.skipChildren();
                        }
                    }
                }
                default -> p.skipChildren();
            }
        }

        private void addId(String id) {
            if (id.isEmpty() || id.length() > io.keymux.core.affinity.ObjectIds.MAX_LENGTH) {
                return;
            }
            List<String> list = ids;
            if (list == null) {
                list = new ArrayList<>(2);
                ids = list;
            }
            if (!list.contains(id)) {
                list.add(id);
            }
        }

        /**
         * UTF-8 bytes of the prompt text in the value the parser stands on: a string counts when
         * {@code counted} (a top-level prompt field, an array element, a {@code content} or
         * {@code text} value); objects are searched for such fields, and for id fields. Counted
         * text also goes to the current digest {@link #sink}.
         */
        private long textBytes(JsonParser p, JsonToken token, boolean counted) throws IOException {
            switch (token) {
                case VALUE_STRING -> {
                    if (!counted) {
                        return 0;
                    }
                    PromptDigest to = sink;
                    if (to != null && !to.full()) {
                        to.add(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                    }
                    return utf8Length(p);
                }
                case START_ARRAY -> {
                    long sum = 0;
                    JsonToken t;
                    while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
                        sum += textBytes(p, t, true);
                    }
                    return sum;
                }
                case START_OBJECT -> {
                    long sum = 0;
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        JsonToken v = p.nextToken();
                        if (isIdField(name)) {
                            ids(p, v);
                        } else {
                            sum += textBytes(p, v, name.equals("content") || name.equals("text"));
                        }
                    }
                    return sum;
                }
                default -> {
                    return 0;
                }
            }
        }
    }

    private static long utf8Length(JsonParser p) throws IOException {
        char[] chars = p.getTextCharacters();
        int offset = p.getTextOffset();
        int end = offset + p.getTextLength();
        long bytes = 0;
        for (int i = offset; i < end; i++) {
            char c = chars[i];
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800 || Character.isSurrogate(c)) {
                // A surrogate pair is 4 bytes in UTF-8: 2 for each half.
                bytes += 2;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /**
     * A copy of {@code body} that asks the upstream for usage in its stream:
     * {@code "stream_options":{"include_usage":true}} is added to the top-level object, or
     * {@code "include_usage":true} to an existing {@code stream_options} object, or an existing
     * non-{@code true} {@code include_usage} value is replaced by {@code true}. Every other byte
     * is kept as sent: the field is spliced in after the last member, before the closing brace.
     *
     * <p>Ownership: the result is always a new reference the caller must release (a
     * {@link ByteBuf#retainedDuplicate()} when nothing changes: {@code include_usage} already
     * {@code true}, or a body that is not a well-formed JSON object); {@code body} itself, its
     * indices and reference count are left untouched.
     */
    public static ByteBuf withIncludeUsage(ByteBuf body) {
        requireNonNull(body, "body");
        Edit edit;
        try (JsonParser p = WireJson.parser(body)) {
            int base = body.readerIndex();
            edit = planIncludeUsage(p, i -> body.getByte(base + i));
        } catch (IOException malformed) {
            return body.retainedDuplicate();
        }
        if (edit == null) {
            return body.retainedDuplicate();
        }
        int length = body.readableBytes();
        int r = body.readerIndex();
        ByteBufAllocator alloc = body.alloc();
        ByteBuf out = alloc.buffer(length - (edit.end - edit.start) + edit.replacement.length);
        out.writeBytes(body, r, edit.start);
        out.writeBytes(edit.replacement);
        out.writeBytes(body, r + edit.end, length - edit.end);
        return out;
    }

    /**
     * As {@link #withIncludeUsage(ByteBuf)} for a byte array; returns {@code body} itself when
     * nothing changes.
     */
    public static byte[] withIncludeUsage(byte[] body) {
        requireNonNull(body, "body");
        Edit edit;
        try (JsonParser p = WireJson.FACTORY.createParser(body)) {
            edit = planIncludeUsage(p, i -> body[i]);
        } catch (IOException malformed) {
            return body;
        }
        if (edit == null) {
            return body;
        }
        byte[] out = new byte[body.length - (edit.end - edit.start) + edit.replacement.length];
        System.arraycopy(body, 0, out, 0, edit.start);
        System.arraycopy(edit.replacement, 0, out, edit.start, edit.replacement.length);
        System.arraycopy(body, edit.end, out, edit.start + edit.replacement.length, body.length - edit.end);
        return out;
    }

    /** Replace bytes {@code [start, end)} of the body by {@code replacement}. */
    private record Edit(int start, int end, byte[] replacement) {}

    @FunctionalInterface
    private interface Bytes {
        byte at(int index);
    }

    /** The one edit that makes {@code include_usage} true, or {@code null} for none. */
    private static @Nullable Edit planIncludeUsage(JsonParser p, Bytes bytes) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            return null;
        }
        int objectStart = offset(p);
        Edit edit = null;
        boolean sawStreamOptions = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (!name.equals("stream_options")) {
                p.skipChildren();
                continue;
            }
            // Upstreams keep the last of duplicate keys, so the last stream_options decides.
            sawStreamOptions = true;
            int valueStart = offset(p);
            if (value == JsonToken.START_OBJECT) {
                edit = planInsideStreamOptions(p, bytes, valueStart);
            } else {
                int valueEnd = valueEnd(p, value, bytes, valueStart);
                edit = new Edit(valueStart, valueEnd, STREAM_OPTIONS_OBJECT);
            }
        }
        int closingBrace = offset(p);
        if (p.nextToken() != null) {
            return null;
        }
        if (sawStreamOptions) {
            return edit;
        }
        return insertMember(bytes, objectStart, closingBrace, STREAM_OPTIONS_FIELD);
    }

    private static @Nullable Edit planInsideStreamOptions(JsonParser p, Bytes bytes, int objectStart)
            throws IOException {
        Edit edit = null;
        boolean sawIncludeUsage = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            if (name.equals("include_usage")) {
                sawIncludeUsage = true;
                if (value == JsonToken.VALUE_TRUE) {
                    edit = null;
                } else {
                    int start = offset(p);
                    edit = new Edit(start, valueEnd(p, value, bytes, start), TRUE);
                }
            } else {
                p.skipChildren();
            }
        }
        int closingBrace = offset(p);
        return sawIncludeUsage ? edit : insertMember(bytes, objectStart, closingBrace, INCLUDE_USAGE_FIELD);
    }

    /** Inserts {@code member} after the object's last member (or right after its brace if empty). */
    private static Edit insertMember(Bytes bytes, int openingBrace, int closingBrace, byte[] member) {
        int last = closingBrace - 1;
        while (last > openingBrace && isJsonWhitespace(bytes.at(last))) {
            last--;
        }
        if (last == openingBrace) {
            return new Edit(closingBrace, closingBrace, member);
        }
        byte[] withComma = new byte[member.length + 1];
        withComma[0] = ',';
        System.arraycopy(member, 0, withComma, 1, member.length);
        return new Edit(last + 1, last + 1, withComma);
    }

    /** The offset just past the value the parser stands on, which starts at {@code start}. */
    private static int valueEnd(JsonParser p, JsonToken value, Bytes bytes, int start) throws IOException {
        switch (value) {
            case START_OBJECT, START_ARRAY -> {
                p.skipChildren();
                return offset(p) + 1;
            }
            case VALUE_STRING -> {
                int i = start + 1;
                while (true) {
                    byte b = bytes.at(i);
                    if (b == '\\') {
                        i += 2;
                    } else if (b == '"') {
                        return i + 1;
                    } else {
                        i++;
                    }
                }
            }
            case VALUE_TRUE, VALUE_NULL -> {
                return start + 4;
            }
            case VALUE_FALSE -> {
                return start + 5;
            }
            default -> {
                // Numbers: ASCII digits, sign, point and exponent.
                int i = start;
                while (true) {
                    byte b = bytes.at(i);
                    if ((b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E') {
                        i++;
                    } else {
                        return i;
                    }
                }
            }
        }
    }

    private static int offset(JsonParser p) {
        return (int) p.currentTokenLocation().getByteOffset();
    }

    private static boolean isJsonWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }
}
