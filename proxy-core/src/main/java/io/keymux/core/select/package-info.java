/**
 * Key selection: the {@link io.keymux.core.select.KeyBroker} hands out {@link
 * io.keymux.core.select.Lease}s on keys within their limits, queues requests when none has
 * capacity, and learns from each {@link io.keymux.core.select.Outcome}.
 */
@NullMarked
package io.keymux.core.select;

import org.jspecify.annotations.NullMarked;
