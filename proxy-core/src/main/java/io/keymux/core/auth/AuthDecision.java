package io.keymux.core.auth;

import io.keymux.config.model.ClientConfig;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** Who the caller is, or why it is refused (401 {@code invalid_client_key}). */
public sealed interface AuthDecision {

    /**
     * The caller may proceed.
     *
     * @param client the matched client, or {@code null} for an anonymous caller (no clients configured)
     */
    record Admitted(String clientName, @Nullable ClientConfig client) implements AuthDecision {
        public Admitted {
            Objects.requireNonNull(clientName, "clientName");
        }

        /** Whether this caller may use the task. */
        public boolean mayUse(String task) {
            return client == null || client.mayUse(task);
        }
    }

    /** The caller is refused; the message says what to do and never holds a secret. */
    record Refused(String message) implements AuthDecision {}
}
