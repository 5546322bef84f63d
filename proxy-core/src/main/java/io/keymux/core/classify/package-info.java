/**
 * Task classification (SPEC.md section 3, step 2): the task header, the {@code /tasks/{task}/}
 * path prefix, the {@code tasks[].match} rules in order, then {@code default_task}. Pure decisions
 * over values the server extracts from the request; no Netty, no Jackson.
 */
@NullMarked
package io.keymux.core.classify;

import org.jspecify.annotations.NullMarked;
