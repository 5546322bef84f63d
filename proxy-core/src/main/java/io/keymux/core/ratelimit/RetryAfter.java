package io.keymux.core.ratelimit;

import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * How long a provider asked us to stay away after a 429.
 *
 * <pre>{@code
 * Duration cooldown = RetryAfter.parse(name -> headers.get(name), time.currentTimeMillis());
 * lease.settle(new Outcome.RateLimited(cooldown));
 * }</pre>
 */
public final class RetryAfter {
    private RetryAfter() {}

    /**
     * The cooldown a 429 asks for, from the first header that parses: {@code retry-after-ms}
     * (milliseconds, the most precise), {@code retry-after} (delta seconds or an HTTP date), else the
     * longest of the {@code x-ratelimit-reset-*} / {@code anthropic-ratelimit-*-reset} resets.
     *
     * @param header looks up a response header by its lowercase name; {@code null} if absent
     * @return the wait, never negative, or {@code null} when no header says (use the configured default)
     */
    public static @Nullable Duration parse(Function<String, @Nullable String> header, long nowMillis) {
        Objects.requireNonNull(header, "header");
        String ms = header.apply("retry-after-ms");
        if (ms != null) {
            try {
                double value = Double.parseDouble(ms.trim());
                if (value >= 0) {
                    return Duration.ofNanos(Math.round(value * 1e6));
                }
            } catch (NumberFormatException e) {
                // fall through to the next header
            }
        }
        String retryAfter = header.apply("retry-after");
        if (retryAfter != null) {
            Duration d = parseRetryAfter(retryAfter, nowMillis);
            if (d != null) {
                return d;
            }
        }
        ProviderLimits limits = ProviderLimits.parse(header, nowMillis);
        Duration a = limits.resetRequests();
        Duration b = limits.resetTokens();
        if (a == null) {
            return b;
        }
        return b == null || a.compareTo(b) >= 0 ? a : b;
    }

    /** {@code Retry-After}: delta seconds or an IMF-fixdate (RFC 9110); {@code null} when malformed. */
    static @Nullable Duration parseRetryAfter(String value, long nowMillis) {
        String v = value.trim();
        try {
            long seconds = Long.parseLong(v);
            return seconds >= 0 ? Duration.ofSeconds(seconds) : null;
        } catch (NumberFormatException e) {
            // not delta seconds: try an HTTP date
        }
        try {
            long at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
            return Duration.ofMillis(Math.max(0, at - nowMillis));
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
