package io.keymux.server.demo;

import java.time.Duration;
import java.util.Objects;

/**
 * How the mock upstream treats one API key.
 *
 * @param label a name for reports (never the key value)
 * @param apiKey the key value the mock accepts
 * @param rpm requests a minute the mock allows before answering 429 (0: unlimited)
 * @param latency time to the response headers (and between stream chunks)
 * @param fault an injected fault
 * @param faultFor how long after the mock starts the fault lasts ({@link Duration#ZERO}: forever)
 */
public record MockKey(String label, String apiKey, int rpm, Duration latency, Fault fault, Duration faultFor) {

    public MockKey {
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(apiKey, "apiKey");
        Objects.requireNonNull(latency, "latency");
        Objects.requireNonNull(fault, "fault");
        Objects.requireNonNull(faultFor, "faultFor");
    }

    /** A healthy key. */
    public static MockKey healthy(String label, String apiKey, int rpm, Duration latency) {
        return new MockKey(label, apiKey, rpm, latency, Fault.NONE, Duration.ZERO);
    }

    /** What goes wrong with a key. */
    public enum Fault {
        /** Nothing. */
        NONE,
        /** Every request answers 429 with {@code Retry-After} while the fault lasts. */
        RATE_LIMITED,
        /** Every request answers 500 while the fault lasts. */
        SERVER_ERROR,
        /** The key is invalid: 401. */
        INVALID,
        /** The key's account is out of credit: OpenAI's 429 {@code insufficient_quota} while the fault lasts. */
        QUOTA_EXHAUSTED,
        /** The provider is overloaded: Anthropic's 529 {@code overloaded_error} while the fault lasts. */
        OVERLOADED
    }

    @Override
    public String toString() {
        return "MockKey[label=" + label + ", rpm=" + rpm + ", latency=" + latency + ", fault=" + fault + "]";
    }
}
