/**
 * The server side of SPEC.md section 3.8: {@link io.keymux.server.cache.ResponseCache} decides per
 * request (off, bypass, hit, join, lead) from the canonical JSON body
 * ({@link io.keymux.server.cache.CanonicalJson}); {@link io.keymux.server.cache.FlightRelay} feeds a
 * leader's answer into its {@link io.keymux.core.cache.Flight} and keeps the upstream call alive while
 * anybody waits; {@link io.keymux.server.cache.CoalescedAnswer} answers a request that joined one.
 */
@NullMarked
package io.keymux.server.cache;

import org.jspecify.annotations.NullMarked;
