package io.keymux.core.select;

import io.keymux.config.model.ApiKeyConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * {@code priority} and {@code cost}: keys sorted once by rank (the config order breaks ties), the
 * best rank with a usable key wins, round robin among keys of equal rank.
 */
final class RankedRoundRobin implements SelectionStrategy {
    private final KeySlot[] sorted;
    private final int[] groupStarts;
    private final RoundRobin[] groups;

    RankedRoundRobin(KeySlot[] tier, Comparator<ApiKeyConfig> rank) {
        sorted = tier.clone();
        Arrays.sort(sorted, (a, b) -> rank.compare(a.config(), b.config()));
        List<Integer> starts = new ArrayList<>();
        for (int i = 0; i < sorted.length; i++) {
            if (i == 0 || rank.compare(sorted[i - 1].config(), sorted[i].config()) != 0) {
                starts.add(i);
            }
        }
        starts.add(sorted.length);
        groupStarts = starts.stream().mapToInt(Integer::intValue).toArray();
        groups = new RoundRobin[groupStarts.length - 1];
        for (int g = 0; g < groups.length; g++) {
            groups[g] = new RoundRobin();
        }
    }

    @Override
    public boolean select(KeySlot[] tier, Attempt attempt) {
        for (int g = 0; g < groups.length; g++) {
            if (groups[g].select(sorted, groupStarts[g], groupStarts[g + 1], attempt)) {
                return true;
            }
        }
        return false;
    }
}
