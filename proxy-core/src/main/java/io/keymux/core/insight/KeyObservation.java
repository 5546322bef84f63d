package io.keymux.core.insight;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One key as seen over the recommendation window.
 *
 * @param tasks the tasks the key serves (without {@code "*"})
 * @param anyTask whether the key is lent to every task ({@code "*"})
 * @param status {@code active}, {@code cooling_down}, {@code circuit_open}, {@code disabled},
 *     {@code quota_exhausted} or {@code budget_exhausted}
 * @param requests attempts in the window
 * @param successes attempts in the window that the upstream answered without a retried error
 * @param averageLatencyMs mean upstream latency over the window's answers, 0 without any
 * @param highUtilisationShare share (0..1) of the window's samples in which the key used more than
 *     80% of its RPM or TPM
 * @param tokenCost USD per token (mean of input and output price)
 * @param dailyBudgetUsd the key's daily budget, or {@code null}
 * @param spendToday USD spent in the current UTC day
 * @param budgetWarnAt the key's {@code budget_warn_at} share, or {@code null} (then 0.8 warns)
 */
public record KeyObservation(
        String keyId,
        List<String> tasks,
        boolean anyTask,
        String status,
        long requests,
        long successes,
        double averageLatencyMs,
        double highUtilisationShare,
        double tokenCost,
        @Nullable Double dailyBudgetUsd,
        double spendToday,
        @Nullable Double budgetWarnAt) {

    public KeyObservation {
        tasks = List.copyOf(tasks);
    }

    /** A key without {@code budget_warn_at}. */
    public KeyObservation(String keyId, List<String> tasks, boolean anyTask, String status, long requests,
            long successes, double averageLatencyMs, double highUtilisationShare, double tokenCost,
            @Nullable Double dailyBudgetUsd, double spendToday) {
        this(keyId, tasks, anyTask, status, requests, successes, averageLatencyMs, highUtilisationShare, tokenCost,
                dailyBudgetUsd, spendToday, null);
    }

    /** Success rate over the window in percent; 100 without requests. */
    public double successRatePercent() {
        return requests == 0 ? 100.0 : 100.0 * successes / requests;
    }
}
