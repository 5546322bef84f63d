package io.keymux.core.select;

/**
 * What one {@link Outcome} does to a key's state, as {@link KeyRule#of} computes it once. The
 * local slot and the shared backend (Redis) apply the same value, each to its own copy of the
 * state, so the two cannot disagree about what a 429, a 5xx or a 401 means.
 *
 * @param tokenRefund tokens that go back into the TPM bucket: the reservation minus what the
 *     answer used (negative: a charge, the bucket may go into debt)
 * @param refundRequest whether the request token goes back (the provider never saw the request)
 * @param cooldownNanos when positive, the key cools down this long from now; a running cooldown
 *     that ends later is never shortened
 * @param verdict what the outcome says about the key's health, for its circuit
 * @param disable whether the key is disabled until its secret or upstream changes
 * @param deferNanos when positive, the key is skipped locally this long (a limit shared with other
 *     replicas had no room); only the local slot holds this
 * @param attempt whether the outcome counts as an attempt in the key's counters
 * @param modelCooldown whether {@code cooldownNanos} cools only the lease's {@code models} bucket
 *     (the provider named the model) rather than the whole key; without a bucket it is the key's
 * @param quotaExhausted whether the key's account is out of credit: the key is
 *     {@code quota_exhausted} and gets one real request every {@code health.quota_probe}
 * @param accountAnswered whether the provider answered for a working account (an answer, a 429
 *     "slow down"): a {@code quota_exhausted} or disabled key whose probe gets this is back
 * @param overloadNanos when positive, the key's whole upstream gets no request this long (it said
 *     it is overloaded); the key's own state is untouched
 */
public record KeyEffect(
        long tokenRefund,
        boolean refundRequest,
        long cooldownNanos,
        Verdict verdict,
        boolean disable,
        long deferNanos,
        boolean attempt,
        boolean modelCooldown,
        boolean quotaExhausted,
        boolean accountAnswered,
        long overloadNanos) {

    /** An answer from a working account: {@code refund} tokens go back; the circuit hears success. */
    public static KeyEffect answered(long refund) {
        return new KeyEffect(refund, false, 0, Verdict.SUCCESS, false, 0, true, false, false, true, 0);
    }

    /** A 429 "slow down": the key (or only its model's bucket) cools down for {@code cooldownNanos}. */
    public static KeyEffect rateLimited(long reservedTokens, long cooldownNanos, boolean modelOnly) {
        return new KeyEffect(reservedTokens, false, Math.max(1, cooldownNanos), Verdict.INCONCLUSIVE, false, 0, true,
                modelOnly, false, true, 0);
    }

    /** The account is out of credit: the key becomes {@code quota_exhausted}. */
    public static KeyEffect quotaExhausted(long reservedTokens) {
        return new KeyEffect(reservedTokens, false, 0, Verdict.INCONCLUSIVE, false, 0, true, false, true, false, 0);
    }

    /** The provider is overloaded: its whole upstream backs off {@code backoffNanos}; the key is untouched. */
    public static KeyEffect overloaded(long reservedTokens, long backoffNanos) {
        return new KeyEffect(reservedTokens, false, 0, Verdict.NONE, false, 0, true, false, false, false,
                Math.max(1, backoffNanos));
    }

    /** A 5xx, a failed connection or a timeout: a failure for the key's circuit. */
    public static KeyEffect failed(long reservedTokens) {
        return new KeyEffect(reservedTokens, false, 0, Verdict.FAILURE, false, 0, true, false, false, false, 0);
    }

    /** A 401/403 that says the key itself is bad: the key is disabled. */
    public static KeyEffect disabled(long reservedTokens) {
        return new KeyEffect(reservedTokens, false, 0, Verdict.INCONCLUSIVE, true, 0, true, false, false, false, 0);
    }

    /** A shared limit had no room: not an attempt; the key is skipped locally for {@code deferNanos}. */
    public static KeyEffect deferred(long reservedTokens, long deferNanos) {
        return new KeyEffect(reservedTokens, true, 0, Verdict.NONE, false, Math.max(1, deferNanos), false, false, false,
                false, 0);
    }

    /** A lease never sent: the request token and the reservation go back, nothing else changes. */
    public static KeyEffect unused(long reservedTokens) {
        return new KeyEffect(reservedTokens, true, 0, Verdict.NONE, false, 0, false, false, false, false, 0);
    }

    /** The client went away mid-attempt: the provider may have seen it, so the request token stays spent. */
    public static KeyEffect cancelled(long reservedTokens) {
        return new KeyEffect(reservedTokens, false, 0, Verdict.NONE, false, 0, true, false, false, false, 0);
    }

    /**
     * What an outcome says about a key's health. {@link Circuit#next} turns it into the circuit's
     * next state; only the half-open probe's verdict can close or reopen an open circuit.
     */
    public enum Verdict {
        /** Nothing was learned (a cancel, an unused lease): a probe's slot is handed to the next request. */
        NONE,
        /** The key answered: failures reset; a probe's success closes the circuit. */
        SUCCESS,
        /** A failure (5xx, connect error, timeout): counts towards opening; a probe's failure reopens. */
        FAILURE,
        /** The key answered but proved nothing about its health (429, 401/403): like {@link #NONE} for the circuit. */
        INCONCLUSIVE;

        /** The name the shared backend's script uses. */
        public String wireName() {
            return switch (this) {
                case NONE, INCONCLUSIVE -> "none";
                case SUCCESS -> "success";
                case FAILURE -> "failure";
            };
        }
    }
}
