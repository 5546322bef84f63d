package io.keymux.core.insight;

import java.util.List;

/**
 * The {@code /admin/health} answer: a 0-100 score from the share of usable keys (half the
 * weight), the success rate over the window (four tenths) and the share of keys that are not slow
 * against their pools (one tenth); {@code healthy} from 80, {@code degraded} from 50.
 *
 * @param status {@code healthy}, {@code degraded} or {@code unhealthy}
 * @param activeKeys keys whose status is {@code active}
 */
public record HealthScore(String status, int score, int activeKeys, int totalKeys) {

    /** Scores a window of key observations; {@code slowKeys} comes from the recommendation rules. */
    public static HealthScore of(List<KeyObservation> keys, int slowKeys) {
        int total = keys.size();
        int active = 0;
        long requests = 0;
        long successes = 0;
        for (KeyObservation k : keys) {
            if (k.status().equals("active")) {
                active++;
            }
            requests += k.requests();
            successes += k.successes();
        }
        double usable = total == 0 ? 0.0 : (double) active / total;
        double success = requests == 0 ? 1.0 : (double) successes / requests;
        double fast = total == 0 ? 1.0 : 1.0 - (double) Math.min(slowKeys, total) / total;
        int score = (int) Math.round(100 * (0.5 * usable + 0.4 * success + 0.1 * fast));
        String status = score >= 80 ? "healthy" : score >= 50 ? "degraded" : "unhealthy";
        return new HealthScore(status, score, active, total);
    }
}
