/**
 * The key state every replica shares (SPEC.md section 8), kept in Redis: RPM/TPM buckets,
 * concurrency counts, cooldowns, circuits, {@code disabled} marks, daily spend, usage of the last
 * minute and the replicas alive.
 *
 * <p>{@link io.keymux.server.sharedstate.SharedLimitBroker} is the broker of
 * {@code limits.backend: redis}: the local broker decides, the shared state confirms.
 * {@link io.keymux.server.sharedstate.SharedKeyState} makes one admission decision per Redis round
 * trip and applies one settle's {@link io.keymux.core.select.KeyRule} effect per round trip (Lua
 * scripts under {@code src/main/resources/redis/}); {@link
 * io.keymux.server.sharedstate.RedisHealth} owns the connection, tells a slow Redis from a down one
 * and reconnects with backoff. While Redis is down every call completes at once with an
 * "unavailable" value so the caller falls back to its share of the local limits; nothing here
 * ever blocks a thread. Redis keys are {@code keymux:{key_id}:...} (the braces are a Cluster hash
 * tag, so one key's state lives in one slot) and hold key ids and a short credential fingerprint,
 * never secrets.
 */
@NullMarked
package io.keymux.server.sharedstate;

import org.jspecify.annotations.NullMarked;
