/**
 * The last 15 minutes of traffic in 10 s steps, for {@code GET /admin/history} and the dashboard's
 * charts (SPEC.md section 5): fixed-size rings per key and per task, so memory does not grow with
 * uptime, fed with a few counter increments per request and read on an injected clock.
 */
@NullMarked
package io.keymux.core.history;

import org.jspecify.annotations.NullMarked;
