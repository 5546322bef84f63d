package io.keymux.core.cost;

/**
 * USD spent in one UTC day, for a daily budget: adding on a new day starts from zero, and reading
 * another day than the one counted gives zero. Days are numbered since the epoch
 * ({@code Math.floorDiv(epochMillis, 86_400_000)}). Thread-safe.
 */
public final class DailySpend {
    private long day = Long.MIN_VALUE;
    private double usd;

    /** Adds {@code amount} to {@code today}'s spend. */
    public synchronized void add(long today, double amount) {
        if (today != day) {
            day = today;
            usd = 0;
        }
        usd += amount;
    }

    /** What was spent on {@code today}. */
    public synchronized double spent(long today) {
        return today == day ? usd : 0;
    }
}
