package io.keymux.core.select;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Which keys a request would rather have, in order, before the task's strategy chooses (SPEC.md
 * section 3.9). One mechanism for two needs:
 *
 * <ul>
 *   <li>{@link #pinned}: an order of one that is {@linkplain #exclusive() exclusive}. A provider
 *       object lives under one key's account, so a request naming it waits for that key's capacity
 *       (up to {@code max_wait}) and never takes another key.</li>
 *   <li>{@link #ordered}: prompt affinity's rendezvous order over the task's keys. The first key
 *       with capacity takes the request; when none of them has, the task's tiers and strategy
 *       decide as usual.</li>
 * </ul>
 *
 * <pre>{@code
 * new KeyRequest("chat", "backend", 800, Set.of(), "gpt-4o", KeyPreference.pinned("team_a"));
 * }</pre>
 *
 * @param order key ids, most wanted first; ids not configured are passed over
 * @param exclusive whether only the keys in {@code order} may serve (no strategy, no failover)
 */
public record KeyPreference(List<String> order, boolean exclusive) {

    /** No preference: the task's strategy alone chooses. */
    public static final KeyPreference NONE = new KeyPreference(List.of(), false);

    public KeyPreference {
        order = List.copyOf(order);
        if (exclusive && order.isEmpty()) {
            throw new IllegalArgumentException("an exclusive preference needs at least one key id");
        }
    }

    /** Only {@code keyId} may serve the request. */
    public static KeyPreference pinned(String keyId) {
        return new KeyPreference(List.of(Objects.requireNonNull(keyId, "keyId")), true);
    }

    /** These keys first, in this order; then the task's strategy. */
    public static KeyPreference ordered(List<String> order) {
        return order.isEmpty() ? NONE : new KeyPreference(order, false);
    }

    /** Whether the strategy alone chooses. */
    public boolean isNone() {
        return order.isEmpty();
    }

    /** The one key an exclusive preference of one names, else {@code null}. */
    public @Nullable String pinnedKeyId() {
        return exclusive && order.size() == 1 ? order.get(0) : null;
    }
}
