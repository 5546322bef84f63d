/** Money: spend counted per UTC day for key and client budgets. */
@NullMarked
package io.keymux.core.cost;

import org.jspecify.annotations.NullMarked;
