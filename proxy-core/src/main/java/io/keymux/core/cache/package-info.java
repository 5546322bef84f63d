/**
 * The exact response cache and request coalescing of SPEC.md section 3.8, without Netty or Jackson:
 * {@link io.keymux.core.cache.CacheKey} (a digest, never a secret), {@link io.keymux.core.cache.AnswerCache}
 * (the Caffeine store bounded by bytes, plus the requests in flight) and
 * {@link io.keymux.core.cache.Flight} (one answer in flight that identical requests wait for).
 */
@NullMarked
package io.keymux.core.cache;

import org.jspecify.annotations.NullMarked;
