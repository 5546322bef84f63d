/** Failover, exact usage and soak tests: keymux in front of a stub upstream that injects faults. */
@NullMarked
package io.keymux.server.failover;

import org.jspecify.annotations.NullMarked;
