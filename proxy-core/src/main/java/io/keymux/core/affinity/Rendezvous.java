package io.keymux.core.affinity;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Rendezvous (highest random weight) hashing: every key gets a score from the digest and its
 * {@code key_id}, and the keys in falling score are the digest's preference order. A key added or
 * removed moves only the digests it ranks first, and a key without capacity hands its digests to
 * their own second choices, spread over the others, not all to one neighbour.
 *
 * <pre>{@code
 * List<String> order = Rendezvous.order(digest, List.of("a", "b", "c")); // e.g. [c, a, b]
 * }</pre>
 */
public final class Rendezvous {
    private Rendezvous() {}

    /** The keys, most preferred first, for {@code digest}. */
    public static List<String> order(long digest, List<String> keyIds) {
        int n = keyIds.size();
        if (n <= 1) {
            return List.copyOf(keyIds);
        }
        long[] scores = new long[n];
        Integer[] index = new Integer[n];
        for (int i = 0; i < n; i++) {
            scores[i] = score(digest, keyIds.get(i));
            index[i] = i;
        }
        // Highest first; ties (vanishingly rare) by position, so the order is total and stable.
        Arrays.sort(index, (x, y) -> {
            int c = Long.compareUnsigned(scores[y], scores[x]);
            return c != 0 ? c : Integer.compare(x, y);
        });
        List<String> order = new ArrayList<>(n);
        for (Integer i : index) {
            order.add(keyIds.get(i));
        }
        return List.copyOf(order);
    }

    /** The score of one key for one digest: a 64-bit mix of both. */
    static long score(long digest, String keyId) {
        return mix(digest ^ fnv1a(keyId));
    }

    /** FNV-1a over the UTF-8 bytes: stable across JVMs, unlike {@link String#hashCode()} mixing. */
    static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** SplitMix64's finaliser: every input bit moves every output bit. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
