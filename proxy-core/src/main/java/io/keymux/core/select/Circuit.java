package io.keymux.core.select;

/**
 * A key's circuit (outlier ejection in Envoy's terms) as an immutable value, and the one
 * transition function both the local slot and the shared backend's script implement.
 *
 * <ul>
 *   <li>{@code CLOSED}: requests pass; {@code failures} consecutive failures are counted, and at the
 *       threshold it opens for the circuit cooldown.
 *   <li>{@code OPEN}: requests are refused until {@code openUntil}; then the next request is the
 *       single probe and the circuit is {@code HALF_OPEN} while it is out.
 *   <li>Only the probe's verdict moves a half-open circuit: success closes it, failure reopens it for
 *       the cooldown, no verdict (429, cancel, 401) lets the next request probe at once. Verdicts of
 *       requests admitted before the circuit opened change nothing.
 * </ul>
 *
 * @param phase closed, open or half-open
 * @param failures consecutive failures counted while closed
 * @param openUntil when an open circuit lets its probe go (nanos of the caller's clock)
 */
public record Circuit(Phase phase, int failures, long openUntil) {

    /** A closed circuit with no failures. */
    public static final Circuit CLOSED = new Circuit(Phase.CLOSED, 0, 0);

    /** The circuit's phases. */
    public enum Phase { CLOSED, OPEN, HALF_OPEN }

    /**
     * The circuit after {@code verdict} of a lease ({@code probe}: the lease was the half-open
     * probe), at {@code now}, opening for {@code cooldownNanos} at {@code threshold} failures.
     */
    public Circuit next(KeyEffect.Verdict verdict, boolean probe, int threshold, long now, long cooldownNanos) {
        if (probe) {
            return switch (verdict) {
                case SUCCESS -> CLOSED;
                case FAILURE -> new Circuit(Phase.OPEN, 0, now + cooldownNanos);
                case NONE, INCONCLUSIVE -> new Circuit(Phase.OPEN, 0, now);
            };
        }
        if (phase != Phase.CLOSED) {
            return this;
        }
        return switch (verdict) {
            case SUCCESS -> failures == 0 ? this : CLOSED;
            case FAILURE -> failures + 1 >= threshold
                    ? new Circuit(Phase.OPEN, 0, now + cooldownNanos)
                    : new Circuit(Phase.CLOSED, failures + 1, 0);
            case NONE, INCONCLUSIVE -> this;
        };
    }

    /** The probe went out: open → half-open. */
    Circuit probing() {
        return new Circuit(Phase.HALF_OPEN, 0, openUntil);
    }
}
