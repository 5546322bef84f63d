/**
 * Hot reload and key rotation, server side (SPEC.md section 7): {@link io.keymux.server.reload.ReloadResult}
 * (what a reload did, as a value), {@link io.keymux.server.reload.RestartOnly} (settings a running
 * listener cannot change) and {@link io.keymux.server.reload.ReloadRoute} ({@code POST /admin/reload}).
 * The swap itself is {@link io.keymux.server.KeymuxServer#reload}.
 */
@NullMarked
package io.keymux.server.reload;

import org.jspecify.annotations.NullMarked;
