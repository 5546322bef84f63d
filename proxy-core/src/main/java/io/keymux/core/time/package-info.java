/** Injected time, so rate, health and cost state can be tested with a fake clock and no sleeps. */
@NullMarked
package io.keymux.core.time;

import org.jspecify.annotations.NullMarked;
