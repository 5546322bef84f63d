package io.keymux.server.sharedstate;

/** A key's shared circuit as Redis holds it. */
public enum CircuitState {
    /** Requests pass; consecutive failures are being counted. */
    CLOSED,
    /** Requests are refused until the circuit cooldown ends. */
    OPEN,
    /** The cooldown ended: one probe request at a time decides whether it closes. */
    HALF_OPEN,
    /** Redis could not be asked. */
    UNKNOWN
}
