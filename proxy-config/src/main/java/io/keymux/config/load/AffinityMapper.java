package io.keymux.config.load;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.AffinityConfig;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/** The top-level {@code affinity} block: the map of provider objects to keys. */
final class AffinityMapper extends SectionMapper {
    static final List<String> AFFINITY_FIELDS = List.of("ttl", "max_entries");

    /** Days, the natural unit of how long a provider keeps an object (SPEC.md writes {@code 30d}). */
    private static final Pattern DAYS = Pattern.compile("0*([1-9]\\d{0,5})d");

    AffinityMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    AffinityConfig affinity(ObjectNode root) {
        ObjectNode o = object(field(root, "affinity"), "affinity", AFFINITY_FIELDS);
        if (o == null) {
            return AffinityConfig.defaults();
        }
        Duration ttl = orElse(ttl(o), AffinityConfig.DEFAULT_TTL);
        long maxEntries = longOr(positiveLong(o, "max_entries", "affinity.max_entries"),
                AffinityConfig.DEFAULT_MAX_ENTRIES);
        return new AffinityConfig(ttl, maxEntries);
    }

    /** {@code ttl}: a duration as anywhere else, or a number of days ({@code 30d}). */
    private @Nullable Duration ttl(ObjectNode o) {
        var n = field(o, "ttl");
        if (n != null && n.isTextual()) {
            String t = interpolateQuietly(n.textValue());
            Matcher days = t == null ? null : DAYS.matcher(t.strip());
            if (days != null && days.matches()) {
                return Duration.ofDays(Long.parseLong(days.group(1)));
            }
        }
        return duration(o, "ttl", "affinity.ttl", true);
    }
}
