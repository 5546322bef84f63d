/**
 * Hardening against bad input and floods, below the proxy pipeline: {@link io.keymux.server.guard.HttpGuard}
 * (decoder failures as SPEC.md section 4 JSON errors, header count, CR/LF in values, header and body
 * read timeouts, the connection cap), {@link io.keymux.server.guard.ConnectionGate} (open connections
 * against {@code server.max_connections}) and {@link io.keymux.server.guard.QueueLimitedBroker} (a
 * bound on requests waiting for a key, per task).
 */
@NullMarked
package io.keymux.server.guard;

import org.jspecify.annotations.NullMarked;
