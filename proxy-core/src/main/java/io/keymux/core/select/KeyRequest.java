package io.keymux.core.select;

import java.util.Objects;
import java.util.Set;

/**
 * What the broker needs to know to choose a key for one attempt of one request.
 *
 * @param task the classified task name
 * @param client the authenticated client's name ({@code anonymous} when unauthenticated)
 * @param estimatedTokens prompt estimate plus the requested completion limit, reserved up front
 * @param excludedKeyIds keys already tried by earlier attempts of this request
 */
public record KeyRequest(String task, String client, long estimatedTokens, Set<String> excludedKeyIds) {

    public KeyRequest {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(client, "client");
        excludedKeyIds = Set.copyOf(excludedKeyIds);
    }
}
