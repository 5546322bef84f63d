/**
 * Client authentication (SPEC.md section 3, step 1): which configured client presented a key,
 * compared in constant time, and protected mode. Pure decisions; the server extracts the key.
 */
@NullMarked
package io.keymux.core.auth;

import org.jspecify.annotations.NullMarked;
