package io.keymux.server.pipeline;

import java.nio.charset.StandardCharsets;

/**
 * How a provider says "this object is not under this key's account" (SPEC.md section 3.9): a 404
 * ({@code "No such File object: file-..."}), or a 400 whose error code is
 * {@code previous_response_not_found}. While keymux searches for an id nobody has seen, such an
 * answer moves the request on to the next key, as a retry that leaves the key's health alone.
 */
final class ObjectSearch {
    /** The {@code reason} of a search miss: not a {@code retry_on} name, so not a failover metric. */
    static final String NOT_HERE_REASON = "object_not_found";
    /** Retry on another key; the lease settles as an ordinary answer (the key is healthy). */
    static final FailoverPolicy.Verdict NOT_HERE = new FailoverPolicy.Verdict(null, true, NOT_HERE_REASON);

    private static final byte[] PREVIOUS_RESPONSE_NOT_FOUND =
            "previous_response_not_found".getBytes(StandardCharsets.US_ASCII);

    private ObjectSearch() {}

    /** Whether an answer of this status may mean "not here" (a 400 needs a look at its body). */
    static boolean mayMeanNotHere(int status) {
        return status == 404 || status == 400;
    }

    /** Whether the start of an answer says the object is not under this key. */
    static boolean saysNotHere(int status, byte[] look) {
        if (status == 404) {
            return true;
        }
        if (status != 400) {
            return false;
        }
        outer:
        for (int i = 0; i <= look.length - PREVIOUS_RESPONSE_NOT_FOUND.length; i++) {
            for (int j = 0; j < PREVIOUS_RESPONSE_NOT_FOUND.length; j++) {
                if (look[i + j] != PREVIOUS_RESPONSE_NOT_FOUND[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
