package io.keymux.server.admin;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Conditions that make {@code /readyz} answer {@code degraded} (still 200): a component that still
 * serves, but worse, such as the Redis limit backend falling back to local limits. Thread-safe; a
 * component sets its reason when it degrades and clears it when it recovers.
 *
 * <pre>{@code
 * signals.degraded("redis", "redis unreachable: each replica uses local_share of the key limits");
 * signals.recovered("redis");
 * }</pre>
 */
public final class ReadinessSignals {
    private final Map<String, String> degraded = new ConcurrentSkipListMap<>();

    /** Marks {@code component} degraded for {@code reason} (replacing an earlier reason). */
    public void degraded(String component, String reason) {
        degraded.put(Objects.requireNonNull(component, "component"), Objects.requireNonNull(reason, "reason"));
    }

    /** Clears {@code component}'s degraded mark, if any. */
    public void recovered(String component) {
        degraded.remove(Objects.requireNonNull(component, "component"));
    }

    /** The current reasons, ordered by component name. */
    public List<String> reasons() {
        return List.copyOf(degraded.values());
    }
}
