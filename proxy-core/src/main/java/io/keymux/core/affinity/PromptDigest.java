package io.keymux.core.affinity;

/**
 * A 64-bit digest of the part of a prompt that stays the same as a conversation grows (SPEC.md
 * section 3.9): the instructions or system messages, the tools and the first user message, fed in
 * that order of appearance, of which only the first {@value #BUDGET} bytes count. Not a security
 * hash: it only has to spread prompts evenly over keys and be the same on every replica.
 *
 * <pre>{@code
 * PromptDigest d = new PromptDigest();
 * d.add("system"); d.add("You are a helpful dentist.");
 * long digest = d.value();
 * }</pre>
 */
public final class PromptDigest {
    /** Bytes of the stable part that count (4 KiB): enough to tell prompts apart, cheap to hash. */
    public static final int BUDGET = 4096;

    private long hash = 0xcbf29ce484222325L;
    private int used;

    /** Whether the budget is spent (further input changes nothing). */
    public boolean full() {
        return used >= BUDGET;
    }

    /** Whether anything was fed. */
    public boolean isEmpty() {
        return used == 0;
    }

    /** Feeds the chars of {@code text}, as UTF-16 units counted as bytes against the budget. */
    public void add(CharSequence text) {
        add(text, 0, text.length());
    }

    /** Feeds {@code text[from, to)}. */
    public void add(CharSequence text, int from, int to) {
        long h = hash;
        int i = from;
        int end = Math.min(to, from + (BUDGET - used));
        for (; i < end; i++) {
            h ^= text.charAt(i);
            h *= 0x100000001b3L;
        }
        used += end - from;
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0x1f;
        h *= 0x100000001b3L;
        hash = h;
    }

    /** Feeds {@code chars[offset, offset + length)} (Jackson's text buffer, without a String). */
    public void add(char[] chars, int offset, int length) {
        long h = hash;
        int end = offset + Math.min(length, Math.max(0, BUDGET - used));
        for (int i = offset; i < end; i++) {
            h ^= chars[i];
            h *= 0x100000001b3L;
        }
        used += end - offset;
        h ^= 0x1f;
        h *= 0x100000001b3L;
        hash = h;
    }

    /** The digest so far, mixed so that similar prompts land far apart. */
    public long value() {
        return Rendezvous.mix(hash);
    }
}
