package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.LimitsConfig;
import java.time.Duration;
import java.util.List;

/** The {@code limits} block and its {@code redis} settings. */
final class LimitsMapper extends SectionMapper {
    static final List<String> LIMITS_FIELDS = List.of("backend", "redis");
    static final List<String> REDIS_FIELDS = List.of("uri", "timeout", "failure_threshold", "local_share");

    LimitsMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    LimitsConfig limits(ObjectNode root) {
        LimitsConfig d = LimitsConfig.defaults();
        ObjectNode o = object(field(root, "limits"), "limits", LIMITS_FIELDS);
        if (o == null) {
            return d;
        }
        LimitsConfig.Backend backend = d.backend();
        String b = string(o, "backend", "limits.backend");
        if (b != null) {
            switch (b) {
                case "local" -> backend = LimitsConfig.Backend.LOCAL;
                case "redis" -> backend = LimitsConfig.Backend.REDIS;
                default -> problem("limits.backend", "must be local or redis (got " + got(o.get("backend")) + ")");
            }
        }
        LimitsConfig.RedisConfig redis = d.redis();
        ObjectNode r = object(field(o, "redis"), "limits.redis", REDIS_FIELDS);
        if (r != null) {
            String uri = string(r, "uri", "limits.redis.uri");
            if (uri != null && !(uri.startsWith("redis://") || uri.startsWith("rediss://"))) {
                problem("limits.redis.uri", "must start with redis:// or rediss:// (got " + got(r.get("uri")) + ")");
            }
            Duration timeout = orElse(duration(r, "timeout", "limits.redis.timeout", true), redis.timeout());
            int failureThreshold = intOr(positiveInt(r, "failure_threshold", "limits.redis.failure_threshold"),
                    redis.failureThreshold());
            Double share = redis.localShare();
            JsonNode shareNode = field(r, "local_share");
            String shareText = shareNode != null && shareNode.isTextual()
                    ? interpolateQuietly(shareNode.textValue())
                    : null;
            if (shareText != null && shareText.strip().equals("auto")) {
                share = null;
            } else if (shareNode != null) {
                Double fixed = number(r, "local_share", "limits.redis.local_share");
                if (fixed != null && !(fixed > 0 && fixed <= 1)) {
                    problem("limits.redis.local_share",
                            "must be auto, or a number > 0 and <= 1 (got " + got(r.get("local_share")) + ")");
                }
                share = fixed;
            }
            redis = redis.toBuilder()
                    .uri(orElse(uri, redis.uri()))
                    .timeout(timeout)
                    .failureThreshold(failureThreshold)
                    .localShare(share)
                    .build();
        }
        return new LimitsConfig(backend, redis);
    }
}
