/** Test support: an in-process upstream stub, a config builder and a base class that runs both servers. */
@NullMarked
package io.keymux.server.testing;

import org.jspecify.annotations.NullMarked;
