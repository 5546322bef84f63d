package io.keymux.core.insight;

import org.jspecify.annotations.Nullable;

/**
 * Something an operator can act on (SPEC.md section 5, {@code /admin/recommendations}).
 *
 * @param type a stable machine-readable kind, such as {@code add_capacity}
 * @param message what was seen and what to do
 */
public record Recommendation(String type, String message, @Nullable String keyId, @Nullable String task) {

    /** A key is above 80% of its RPM or TPM for most of the window. */
    public static final String ADD_CAPACITY = "add_capacity";
    /** A key's success rate is below 90%. */
    public static final String LOW_SUCCESS_RATE = "low_success_rate";
    /** A key answers much slower than the other keys of its pool. */
    public static final String SLOW_KEY = "slow_key";
    /** A task has a single key and no fallback. */
    public static final String NO_REDUNDANCY = "no_redundancy";
    /** A key served nothing during the window. */
    public static final String IDLE_KEY = "idle_key";
    /** A key has spent most of its daily budget. */
    public static final String BUDGET_LOW = "budget_low";
    /** A key's account is out of credit ({@code quota_exhausted}): top it up. */
    public static final String QUOTA_EXHAUSTED = "quota_exhausted";
    /** A {@code priority} task leaves a cheaper key of its own unused. */
    public static final String CHEAPER_KEY_UNUSED = "cheaper_key_unused";
}
