package io.keymux.server.demo;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The mock's stand-in for a provider's prompt cache, one per key (OpenAI keeps it per organisation):
 * a prompt of at least 1024 tokens has its prefixes remembered at 1024 tokens and every 128 tokens
 * after, and a later prompt of the same key that starts with a remembered prefix reports that
 * prefix's length as {@code cached_tokens}. Tokens are counted as the mock counts them, 4 bytes each.
 * Prefixes are forgotten after {@code ttlNanos} unused, or beyond a bounded number, oldest first.
 * Thread-safe.
 */
final class MockPromptCache {
    /** OpenAI caches prompts from this many tokens on. */
    static final int MIN_TOKENS = 1024;
    /** ...in steps of this many. */
    static final int STEP_TOKENS = 128;
    static final int BYTES_PER_TOKEN = 4;
    private static final int MAX_PREFIXES = 4096;

    private final long ttlNanos;
    /** Prefix digest → when it was last used; access order, so the eldest is the least recently used. */
    private final LinkedHashMap<Long, Long> prefixes = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
            return size() > MAX_PREFIXES;
        }
    };

    MockPromptCache(long ttlNanos) {
        this.ttlNanos = ttlNanos;
    }

    /** Remembers {@code prompt}'s prefixes and returns how many of its tokens a cache would have served. */
    synchronized long lookupAndStore(byte[] prompt, long nowNanos) {
        long cachedBytes = 0;
        long hash = 0xcbf29ce484222325L;
        int next = MIN_TOKENS * BYTES_PER_TOKEN;
        for (int i = 0; i < prompt.length; i++) {
            // FNV-1a over the bytes, read at each checkpoint: one pass however many prefixes.
            hash = (hash ^ (prompt[i] & 0xff)) * 0x100000001b3L;
            if (i + 1 == next) {
                Long seen = prefixes.get(hash);
                if (seen != null && nowNanos - seen <= ttlNanos) {
                    cachedBytes = next;
                }
                prefixes.put(hash, nowNanos);
                next += STEP_TOKENS * BYTES_PER_TOKEN;
            }
        }
        return cachedBytes / BYTES_PER_TOKEN;
    }
}
