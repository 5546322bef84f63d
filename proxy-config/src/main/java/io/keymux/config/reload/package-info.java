/**
 * Hot reload, configuration side: {@link io.keymux.config.reload.ConfigWatcher} watches the config
 * and env files and hands each changed, reloaded {@link io.keymux.config.load.LoadResult} to a
 * listener, which swaps snapshots (SPEC.md section 7).
 */
@NullMarked
package io.keymux.config.reload;

import org.jspecify.annotations.NullMarked;
