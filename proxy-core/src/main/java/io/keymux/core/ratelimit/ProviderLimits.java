package io.keymux.core.ratelimit;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What a provider's response headers say about the key's own limits. Every field is {@code null}
 * when the provider did not say.
 *
 * <p>Read from OpenAI's {@code x-ratelimit-remaining-requests}, {@code x-ratelimit-remaining-tokens},
 * {@code x-ratelimit-reset-requests}, {@code x-ratelimit-reset-tokens} (durations such as {@code 1s},
 * {@code 6m0s}, {@code 12ms}, {@code 1h2m3.5s}), or Anthropic's
 * {@code anthropic-ratelimit-requests-remaining}, {@code anthropic-ratelimit-tokens-remaining},
 * {@code anthropic-ratelimit-requests-reset}, {@code anthropic-ratelimit-tokens-reset} (RFC 3339
 * instants). OpenAI's names win when both are present.
 *
 * <pre>{@code
 * ProviderLimits limits = ProviderLimits.parse(name -> headers.get(name), time.currentTimeMillis());
 * lease.observe(limits);
 * }</pre>
 *
 * @param resetRequests time until the request limit is full again
 * @param resetTokens time until the token limit is full again
 */
public record ProviderLimits(
        @Nullable Long remainingRequests,
        @Nullable Long remainingTokens,
        @Nullable Duration resetRequests,
        @Nullable Duration resetTokens) {

    /** Nothing known. */
    public static final ProviderLimits UNKNOWN = new ProviderLimits(null, null, null, null);

    private static final Pattern DURATION_PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|h|m|s)");

    /** Whether no field is known. */
    public boolean isUnknown() {
        return remainingRequests == null && remainingTokens == null && resetRequests == null && resetTokens == null;
    }

    /**
     * Reads the headers.
     *
     * @param header looks up a response header by its lowercase name; {@code null} if absent
     * @param nowMillis wall-clock now, to turn Anthropic's reset instants into durations
     */
    public static ProviderLimits parse(Function<String, @Nullable String> header, long nowMillis) {
        Objects.requireNonNull(header, "header");
        Long requests = firstLong(header, "x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining");
        Long tokens = firstLong(header, "x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining");
        Duration resetRequests = reset(header, "x-ratelimit-reset-requests", "anthropic-ratelimit-requests-reset", nowMillis);
        Duration resetTokens = reset(header, "x-ratelimit-reset-tokens", "anthropic-ratelimit-tokens-reset", nowMillis);
        return new ProviderLimits(requests, tokens, resetRequests, resetTokens);
    }

    private static @Nullable Long firstLong(Function<String, @Nullable String> header, String... names) {
        for (String name : names) {
            String value = header.apply(name);
            if (value != null) {
                try {
                    return Long.parseLong(value.trim());
                } catch (NumberFormatException e) {
                    // A malformed header tells us nothing; try the other family.
                }
            }
        }
        return null;
    }

    private static @Nullable Duration reset(
            Function<String, @Nullable String> header, String openAi, String anthropic, long nowMillis) {
        String value = header.apply(openAi);
        if (value != null) {
            Duration d = parseOpenAiDuration(value);
            if (d != null) {
                return d;
            }
        }
        value = header.apply(anthropic);
        return value == null ? null : untilInstant(value, nowMillis);
    }

    /**
     * Parses OpenAI's duration format ({@code 1s}, {@code 6m0s}, {@code 12ms}, {@code 1h2m3.5s}); a
     * bare number is taken as seconds. {@code null} when malformed.
     */
    public static @Nullable Duration parseOpenAiDuration(String text) {
        String s = text.trim();
        if (s.isEmpty()) {
            return null;
        }
        try {
            if (Character.isDigit(s.charAt(s.length() - 1))) {
                return nanosOf(Double.parseDouble(s) * 1e9);
            }
        } catch (NumberFormatException e) {
            return null;
        }
        Matcher m = DURATION_PART.matcher(s);
        double nanos = 0;
        int end = 0;
        while (m.find()) {
            if (m.start() != end) {
                return null;
            }
            end = m.end();
            double amount = Double.parseDouble(m.group(1));
            nanos += switch (m.group(2)) {
                case "h" -> amount * 3600e9;
                case "m" -> amount * 60e9;
                case "s" -> amount * 1e9;
                default -> amount * 1e6;
            };
        }
        return end == s.length() ? nanosOf(nanos) : null;
    }

    private static Duration nanosOf(double nanos) {
        return Duration.ofNanos(Math.max(0L, Math.round(nanos)));
    }

    /** Time from {@code nowMillis} to an RFC 3339 instant, never negative; {@code null} when malformed. */
    static @Nullable Duration untilInstant(String rfc3339, long nowMillis) {
        try {
            Instant at = OffsetDateTime.parse(rfc3339.trim()).toInstant();
            long millis = at.toEpochMilli() - nowMillis;
            return Duration.ofMillis(Math.max(0, millis));
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
