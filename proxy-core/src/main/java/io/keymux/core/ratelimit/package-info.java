/**
 * Rate limits: per-key request and token buckets ({@link io.keymux.core.ratelimit.KeyLimits}),
 * per-client gates, what providers say about their own limits, and the fast token estimate.
 */
@NullMarked
package io.keymux.core.ratelimit;

import org.jspecify.annotations.NullMarked;
