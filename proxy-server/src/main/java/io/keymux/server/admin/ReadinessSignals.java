package io.keymux.server.admin;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Conditions that {@code /readyz} reports beside the configuration and the keys: a component that
 * still serves, but worse, makes it {@code degraded} (still 200), such as the Redis limit backend
 * falling back to local limits; one that does not serve yet makes it {@code unready} (503), such as
 * the proxy port before the warm-up has ended. Thread-safe; a component sets its reason when it
 * degrades or stops and clears it when it recovers.
 *
 * <pre>{@code
 * signals.degraded("redis", "redis unreachable: each replica uses local_share of the key limits");
 * signals.recovered("redis");
 * }</pre>
 */
public final class ReadinessSignals {
    private final Map<String, String> degraded = new ConcurrentSkipListMap<>();
    private final Map<String, String> unready = new ConcurrentSkipListMap<>();

    /** Marks {@code component} degraded for {@code reason} (replacing an earlier reason). */
    public void degraded(String component, String reason) {
        degraded.put(Objects.requireNonNull(component, "component"), Objects.requireNonNull(reason, "reason"));
    }

    /** Marks {@code component} not serving yet for {@code reason}: {@code /readyz} answers 503 until it recovers. */
    public void unready(String component, String reason) {
        unready.put(Objects.requireNonNull(component, "component"), Objects.requireNonNull(reason, "reason"));
    }

    /** Clears {@code component}'s degraded or unready mark, if any. */
    public void recovered(String component) {
        Objects.requireNonNull(component, "component");
        degraded.remove(component);
        unready.remove(component);
    }

    /** The current degraded reasons, ordered by component name. */
    public List<String> degradedReasons() {
        return List.copyOf(degraded.values());
    }

    /** The current unready reasons, ordered by component name. */
    public List<String> unreadyReasons() {
        return List.copyOf(unready.values());
    }
}
