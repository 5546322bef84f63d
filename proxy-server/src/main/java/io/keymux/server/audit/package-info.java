/** The audit log (SPEC.md section 6): one JSON line per request on the logger {@code keymux.audit}. */
@NullMarked
package io.keymux.server.audit;

import org.jspecify.annotations.NullMarked;
