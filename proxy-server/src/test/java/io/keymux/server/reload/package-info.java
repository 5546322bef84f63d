/** Tests of hot reload and key rotation through files, the watcher and {@code POST /admin/reload}. */
@NullMarked
package io.keymux.server.reload;

import org.jspecify.annotations.NullMarked;
