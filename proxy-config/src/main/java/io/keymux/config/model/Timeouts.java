package io.keymux.config.model;

import java.time.Duration;

/**
 * Per-task upstream timeouts.
 *
 * @param connect to establish the upstream connection
 * @param firstByte to the response headers and, for a stream, to its first data chunk
 * @param idle between two chunks of a streamed answer
 */
public record Timeouts(Duration connect, Duration firstByte, Duration idle) {

    /** 5s connect, 120s first byte, 60s idle. */
    public static Timeouts defaults() {
        return new Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(120), Duration.ofSeconds(60));
    }
}
