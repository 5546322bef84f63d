/**
 * Key selection: the {@link io.keymux.core.select.KeyBroker} hands out {@link
 * io.keymux.core.select.Lease}s on keys within their limits, queues requests when none has
 * capacity, and learns from each {@link io.keymux.core.select.Outcome}.
 *
 * <p>How a key is chosen. A task's candidates come in tiers: its own keys, then each fallback task's
 * keys in order, then {@code "*"} keys. The task's strategy ({@code round_robin}, {@code
 * least_loaded}, {@code priority}, {@code cost}, {@code latency}, {@code weighted}) picks within the
 * first tier that has a key able to take the request now: not disabled (upstream 401/403 until the
 * key's config changes), not cooling down (429: until {@code Retry-After}, else {@code
 * rate_limit_cooldown}; a later 429 never shortens it), circuit not open ({@code failure_threshold}
 * consecutive 5xx/connect/timeout failures open it for {@code circuit_cooldown}, then exactly one
 * probe decides), daily budget not spent (UTC day), and with room in its rpm bucket, tpm bucket and
 * {@code max_concurrent}. Taking a key reserves all three under that key's lock. A key whose circuit
 * just closed ramps back over 10 s (it accepts a growing share of the picks that land on it), unless
 * no other key can take the request. Health settings are those of the task the lease was taken for.
 *
 * <p>Admin views: {@link io.keymux.core.select.KeyBroker#keyStates()} and {@link
 * io.keymux.core.select.KeyBroker#metrics()}.
 */
@NullMarked
package io.keymux.core.select;

import org.jspecify.annotations.NullMarked;
