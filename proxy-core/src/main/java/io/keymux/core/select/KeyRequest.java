package io.keymux.core.select;

import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What the broker needs to know to choose a key for one attempt of one request.
 *
 * @param task the classified task name
 * @param client the authenticated client's name ({@code anonymous} when unauthenticated)
 * @param estimatedTokens prompt estimate plus the requested completion limit, reserved up front
 * @param excludedKeyIds keys already tried by earlier attempts of this request
 * @param model the request body's {@code model}, which picks a key's {@code models} bucket; {@code null}
 *     when the body names none
 * @param preference keys wanted before the strategy chooses, or only them (a provider object's key)
 */
public record KeyRequest(String task, String client, long estimatedTokens, Set<String> excludedKeyIds,
        @Nullable String model, KeyPreference preference) {

    public KeyRequest {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(client, "client");
        excludedKeyIds = Set.copyOf(excludedKeyIds);
        Objects.requireNonNull(preference, "preference");
    }

    /** A request without a key preference. */
    public KeyRequest(String task, String client, long estimatedTokens, Set<String> excludedKeyIds,
            @Nullable String model) {
        this(task, client, estimatedTokens, excludedKeyIds, model, KeyPreference.NONE);
    }

    /** A request that names no model. */
    public KeyRequest(String task, String client, long estimatedTokens, Set<String> excludedKeyIds) {
        this(task, client, estimatedTokens, excludedKeyIds, null);
    }

    /**
     * Whether the broker may treat this request like any other of its task (no key tried, no
     * preference): a failure to serve it then says the same about larger ones of the task.
     */
    boolean plain() {
        return excludedKeyIds.isEmpty() && preference.isNone();
    }
}
