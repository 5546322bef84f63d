/**
 * Per-key limit state shared by every replica through Redis (SPEC.md section 8): RPM/TPM
 * buckets, concurrency counts, cooldowns, circuits, {@code disabled} marks and daily spend.
 *
 * <p>{@link io.keymux.server.redis.SharedKeyState} makes one admission decision per Redis round
 * trip (a Lua script under {@code src/main/resources/redis/}); {@link
 * io.keymux.server.redis.RedisHealth} owns the connection, notices when Redis stops answering
 * and reconnects with backoff. While Redis is down every call completes at once with an
 * "unavailable" value so the caller falls back to local limits; nothing here ever blocks a
 * thread. Redis keys are {@code keymux:{key_id}:...} (the braces are a Cluster hash tag, so one
 * key's state lives in one slot) and hold key ids only, never secrets.
 */
@NullMarked
package io.keymux.server.redis;

import org.jspecify.annotations.NullMarked;
