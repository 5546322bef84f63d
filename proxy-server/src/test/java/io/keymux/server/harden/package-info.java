/** Tests of the guards against bad input, slow clients and floods, and of TLS. */
@NullMarked
package io.keymux.server.harden;

import org.jspecify.annotations.NullMarked;
