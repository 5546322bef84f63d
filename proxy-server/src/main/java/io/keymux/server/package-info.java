/** The keymux server: the proxy and admin listeners and their lifecycle ({@link io.keymux.server.KeymuxServer}). */
@NullMarked
package io.keymux.server;

import org.jspecify.annotations.NullMarked;
