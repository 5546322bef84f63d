/**
 * What operators act on: the health score and the recommendations (SPEC.md section 5), computed
 * from plain observations of keys and tasks over a window, so every rule is testable on its own.
 */
@NullMarked
package io.keymux.core.insight;

import org.jspecify.annotations.NullMarked;
