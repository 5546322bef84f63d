/**
 * Wire-level helpers for the request pipeline: what a JSON request asks for
 * ({@link io.keymux.server.wire.RequestInspector}), how many tokens an answer used
 * ({@link io.keymux.server.wire.JsonUsage}, {@link io.keymux.server.wire.SseUsageScanner}).
 *
 * <p>Everything here works on bytes with Jackson's streaming parser: no JSON trees, no
 * {@code String} copies of bodies or chunks, and none of it ever throws on malformed input,
 * because keymux forwards what it cannot understand and lets the upstream decide.
 */
@org.jspecify.annotations.NullMarked
package io.keymux.server.wire;
