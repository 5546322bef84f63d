package io.keymux.core.health;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What one upstream answer means (SPEC.md section 3, step 7), as
 * {@link AnswerClassifier#classify} reads it from the status, the headers and a bounded look at the
 * error body.
 *
 * @param kind the meaning
 * @param status the upstream's status code
 * @param retryAfter how long the provider asked to stay away ({@code Retry-After},
 *     {@code retry-after-ms}, {@code x-ratelimit-reset-*}, or OpenAI's "try again in 1.5s"), or
 *     {@code null} when it did not say
 * @param perModel for {@link Kind#RATE_LIMITED}: the provider named the request's model, so the
 *     limit hit is that model's and not the whole key's
 */
public record AnswerMeaning(Kind kind, int status, @Nullable Duration retryAfter, boolean perModel) {

    public AnswerMeaning {
        Objects.requireNonNull(kind, "kind");
    }

    /** The meanings keymux acts on. */
    public enum Kind {
        /**
         * An answer for the client: a 2xx, or a 4xx that is about the request, not the key (a
         * 401/403 saying the key lacks permission for this request included).
         */
        ANSWER,
        /** 429 "slow down": the key (or its bucket for the model) cools down. */
        RATE_LIMITED,
        /** 429 {@code insufficient_quota} or 402: the key's account is out of credit. */
        QUOTA_EXHAUSTED,
        /** 401 or 403 saying the key itself is bad (invalid, revoked, expired, account deactivated). */
        UNAUTHORIZED,
        /** 529, or a 503 whose body names the provider as overloaded: not about the key at all. */
        OVERLOADED,
        /** Any other 5xx: counts towards the key's circuit. */
        SERVER_ERROR
    }
}
