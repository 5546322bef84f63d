package io.keymux.core.health;

import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.ratelimit.RetryAfter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads what an upstream answer means for its key and its upstream: status, headers and at most
 * {@link #BODY_LOOK_BYTES} bytes of the error body in, an {@link AnswerMeaning} out. A pure
 * function: the server hands over the bytes, nothing here parses JSON in full or allocates per
 * byte beyond the bounded look.
 *
 * <table>
 *   <caption>The rules, first match wins</caption>
 *   <tr><th>answer</th><th>meaning</th></tr>
 *   <tr><td>below 400</td><td>{@code ANSWER}</td></tr>
 *   <tr><td>401 or 403 whose error {@code code}/{@code type} says the key itself is bad (OpenAI's
 *       {@code invalid_api_key}, {@code account_deactivated}; Anthropic's {@code authentication_error})</td>
 *       <td>{@code UNAUTHORIZED}</td></tr>
 *   <tr><td>401 or 403 that says the key lacks permission for this request (missing scopes,
 *       insufficient permissions, no access to the model, Anthropic's {@code permission_error})</td>
 *       <td>{@code ANSWER} (passed through; the key stays)</td></tr>
 *   <tr><td>other 401 (it names no permission)</td><td>{@code UNAUTHORIZED}</td></tr>
 *   <tr><td>other 403 (NVIDIA's "Authorization failed" for a model the account is not entitled to,
 *       a region refusal)</td><td>{@code ANSWER} (passed through; the key stays)</td></tr>
 *   <tr><td>402 (NVIDIA, OpenRouter and others: payment required)</td><td>{@code QUOTA_EXHAUSTED}</td></tr>
 *   <tr><td>429 whose error {@code code} or {@code type} is {@code insufficient_quota} (OpenAI)</td>
 *       <td>{@code QUOTA_EXHAUSTED}</td></tr>
 *   <tr><td>other 429</td><td>{@code RATE_LIMITED}, per model when the error message names the
 *       request's model (OpenAI's "Rate limit reached for gpt-4o in organization ...")</td></tr>
 *   <tr><td>529 (Anthropic's {@code overloaded_error})</td><td>{@code OVERLOADED}</td></tr>
 *   <tr><td>503 whose error body says "overloaded" (type, code or message)</td><td>{@code OVERLOADED}</td></tr>
 *   <tr><td>other 5xx</td><td>{@code SERVER_ERROR}</td></tr>
 *   <tr><td>other 4xx</td><td>{@code ANSWER} (passed through)</td></tr>
 * </table>
 *
 * <pre>{@code
 * if (AnswerClassifier.wantsBody(status)) { ... read up to BODY_LOOK_BYTES ... }
 * AnswerMeaning m = AnswerClassifier.classify(status, headers::get, head, head.length, "gpt-4o", now);
 * }</pre>
 */
public final class AnswerClassifier {
    /** At most this many bytes of an error body are looked at. */
    public static final int BODY_LOOK_BYTES = 8192;
    /** An error's {@code code}/{@code type} that means the account is out of credit. */
    public static final String INSUFFICIENT_QUOTA = "insufficient_quota";

    /**
     * Error codes and types that say the credential itself is bad, whatever the request: invalid,
     * revoked, expired, or its account deactivated. Only codes count here, never message words: a
     * message may echo what the client sent (a model name, say), and no client request may take a
     * key away from the others.
     */
    private static final List<String> KEY_IS_BAD = List.of("invalid_api_key", "account_deactivated",
            "authentication_error", "invalid_authentication", "api_key_invalid", "api_key_expired", "expired_api_key",
            "revoked_api_key", "unauthenticated");
    /** Error codes and types that say the key may not do this request (it is a working key). */
    private static final List<String> NO_PERMISSION = List.of("permission_error", "permission_denied",
            "insufficient_permissions", "insufficient_scope", "missing_scope", "model_not_found", "model_not_available",
            "unsupported_country_region_territory", "forbidden", "invalid_organization", "invalid_project",
            "mismatched_organization", "mismatched_project");
    /**
     * Message words that say the key lacks permission for this request (OpenAI's restricted keys:
     * "You have insufficient permissions for this operation. Missing scopes: ..."; model access:
     * "does not have access to model ..."). A client may send its own {@code OpenAI-Organization}
     * or {@code OpenAI-Project} header, and the 401 for a wrong one is about that header, not the
     * key. Matching one only keeps the key: the safe direction.
     */
    private static final List<String> PERMISSION_WORDS = List.of("permission", "scope", "not have access",
            "no access to", "not entitled", "not allowed to", "not authorized to access", "access to model",
            "access to the model", "organization", "project");

    /** {@code "code": "..."}, {@code "type": "..."}, {@code "message": "..."} string members, anywhere. */
    private static final Pattern MEMBER =
            Pattern.compile("\"(code|type|message|title|detail)\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.){0,2000})\"");
    /** OpenAI's "Please try again in 1.234s" / "in 120ms" / "in 6m0s". */
    private static final Pattern TRY_AGAIN = Pattern.compile("(?i)try again in ((?:\\d+(?:\\.\\d+)?(?:ms|h|m|s))+)");

    private AnswerClassifier() {}

    /**
     * Whether the meaning of {@code status} depends on the body, so the server should hand over a
     * look at it: 401 and 403 (a bad key or a missing permission), 429 (rate limit or quota) and
     * 503 (overloaded or not).
     */
    public static boolean wantsBody(int status) {
        return status == 401 || status == 403 || status == 429 || status == 503;
    }

    /**
     * Classifies one answer.
     *
     * @param header looks up a response header by its lowercase name; {@code null} if absent
     * @param body the start of the body (only the first {@code min(length, BODY_LOOK_BYTES)} bytes
     *     are read; an empty array when not looked at)
     * @param length how many bytes of {@code body} are valid
     * @param model the request's {@code model}, or {@code null}
     * @param nowMillis wall-clock now, for HTTP-date and RFC 3339 reset headers
     */
    public static AnswerMeaning classify(int status, Function<String, @Nullable String> header, byte[] body,
            int length, @Nullable String model, long nowMillis) {
        Objects.requireNonNull(header, "header");
        Objects.requireNonNull(body, "body");
        if (status < 400) {
            return new AnswerMeaning(AnswerMeaning.Kind.ANSWER, status, null, false);
        }
        if (status == 401 || status == 403) {
            return keyIsBad(status, ErrorFields.read(body, length))
                    ? new AnswerMeaning(AnswerMeaning.Kind.UNAUTHORIZED, status, null, false)
                    : new AnswerMeaning(AnswerMeaning.Kind.ANSWER, status, null, false);
        }
        if (status == 402) {
            return new AnswerMeaning(AnswerMeaning.Kind.QUOTA_EXHAUSTED, status, null, false);
        }
        if (status == 429) {
            ErrorFields error = ErrorFields.read(body, length);
            if (error.codeOrTypeIs(INSUFFICIENT_QUOTA)) {
                return new AnswerMeaning(AnswerMeaning.Kind.QUOTA_EXHAUSTED, status, null, false);
            }
            Duration wait = RetryAfter.parse(header, nowMillis);
            if (wait == null) {
                wait = error.tryAgainIn();
            }
            return new AnswerMeaning(AnswerMeaning.Kind.RATE_LIMITED, status, wait, error.namesModel(model));
        }
        if (status == 529) {
            return new AnswerMeaning(AnswerMeaning.Kind.OVERLOADED, status, RetryAfter.parse(header, nowMillis), false);
        }
        if (status == 503 && ErrorFields.read(body, length).says("overloaded")) {
            return new AnswerMeaning(AnswerMeaning.Kind.OVERLOADED, status, RetryAfter.parse(header, nowMillis), false);
        }
        if (status >= 500) {
            return new AnswerMeaning(AnswerMeaning.Kind.SERVER_ERROR, status, null, false);
        }
        return new AnswerMeaning(AnswerMeaning.Kind.ANSWER, status, null, false);
    }

    /**
     * Whether a 401/403 says the key itself is bad (disable it) rather than that it may not do
     * this request (pass the answer through, keep the key). A code naming a bad key wins; then a
     * code or message naming a permission keeps the key; then a 401 is about the key (the
     * credential was not accepted) and a 403 about the request (it was, but not for this).
     */
    private static boolean keyIsBad(int status, ErrorFields error) {
        for (String code : KEY_IS_BAD) {
            if (error.codeOrTypeIs(code)) {
                return true;
            }
        }
        for (String code : NO_PERMISSION) {
            if (error.codeOrTypeIs(code)) {
                return false;
            }
        }
        for (String word : PERMISSION_WORDS) {
            if (error.messageSays(word)) {
                return false;
            }
        }
        return status == 401;
    }

    /** The string members an error body carries, from the bounded look. */
    private record ErrorFields(List<String> codes, List<String> messages) {

        static ErrorFields read(byte[] body, int length) {
            int n = Math.max(0, Math.min(Math.min(length, body.length), BODY_LOOK_BYTES));
            List<String> codes = new ArrayList<>();
            List<String> messages = new ArrayList<>();
            if (n == 0) {
                return new ErrorFields(codes, messages);
            }
            String text = new String(body, 0, n, StandardCharsets.UTF_8);
            Matcher m = MEMBER.matcher(text);
            while (m.find()) {
                String value = m.group(2);
                switch (m.group(1)) {
                    case "code", "type" -> codes.add(value.toLowerCase(Locale.ROOT));
                    default -> messages.add(value);
                }
            }
            return new ErrorFields(codes, messages);
        }

        boolean codeOrTypeIs(String wanted) {
            return codes.contains(wanted);
        }

        /** Whether any code, type or message contains {@code word}, ignoring case. */
        boolean says(String word) {
            for (String code : codes) {
                if (code.contains(word)) {
                    return true;
                }
            }
            for (String message : messages) {
                if (message.toLowerCase(Locale.ROOT).contains(word)) {
                    return true;
                }
            }
            return false;
        }

        /** Whether a message, title or detail contains {@code word} (lowercase), ignoring case. */
        boolean messageSays(String word) {
            for (String message : messages) {
                if (message.toLowerCase(Locale.ROOT).contains(word)) {
                    return true;
                }
            }
            return false;
        }

        /** Whether a message names {@code model} as a whole word ("gpt-4o" is not named by "gpt-4o-mini"). */
        boolean namesModel(@Nullable String model) {
            if (model == null || model.isEmpty()) {
                return false;
            }
            String wanted = model.toLowerCase(Locale.ROOT);
            for (String message : messages) {
                String text = message.toLowerCase(Locale.ROOT);
                for (int at = text.indexOf(wanted); at >= 0; at = text.indexOf(wanted, at + 1)) {
                    int end = at + wanted.length();
                    if ((at == 0 || !modelChar(text.charAt(at - 1))) && (end == text.length() || !modelChar(text.charAt(end)))) {
                        return true;
                    }
                }
            }
            return false;
        }

        private static boolean modelChar(char c) {
            return Character.isLetterOrDigit(c) || c == '-' || c == '_' || c == '.' || c == '/' || c == ':';
        }

        @Nullable Duration tryAgainIn() {
            for (String message : messages) {
                Matcher m = TRY_AGAIN.matcher(message);
                if (m.find()) {
                    return ProviderLimits.parseOpenAiDuration(m.group(1));
                }
            }
            return null;
        }
    }
}
