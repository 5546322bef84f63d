/** The admin listener: {@code /healthz} and {@code /readyz}. */
@NullMarked
package io.keymux.server.admin;

import org.jspecify.annotations.NullMarked;
