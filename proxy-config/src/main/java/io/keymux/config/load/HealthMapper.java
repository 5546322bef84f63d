package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.HealthConfig;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** A {@code health} block: the top-level defaults, or a task's overrides of them. */
final class HealthMapper extends SectionMapper {
    static final List<String> HEALTH_FIELDS =
            List.of("failure_threshold", "circuit_cooldown", "rate_limit_cooldown", "quota_probe", "disabled_probe",
                    "overload_backoff");

    HealthMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    HealthConfig health(@Nullable JsonNode node, String path, HealthConfig base) {
        ObjectNode o = object(node, path, HEALTH_FIELDS);
        if (o == null) {
            return base;
        }
        int failureThreshold =
                intOr(positiveInt(o, "failure_threshold", path + ".failure_threshold"), base.failureThreshold());
        Duration circuitCooldown =
                orElse(duration(o, "circuit_cooldown", path + ".circuit_cooldown", true), base.circuitCooldown());
        Duration rateLimitCooldown =
                orElse(duration(o, "rate_limit_cooldown", path + ".rate_limit_cooldown", true), base.rateLimitCooldown());
        Duration quotaProbe = orElse(duration(o, "quota_probe", path + ".quota_probe", true), base.quotaProbe());
        Duration disabledProbe = base.disabledProbe();
        JsonNode probe = field(o, "disabled_probe");
        if (probe != null) {
            String written = probe.isTextual() ? interpolateQuietly(probe.textValue()) : null;
            disabledProbe = written != null && written.strip().equals("off")
                    ? null
                    : orElse(duration(o, "disabled_probe", path + ".disabled_probe", true), base.disabledProbe());
        }
        Duration overloadBackoff =
                orElse(duration(o, "overload_backoff", path + ".overload_backoff", true), base.overloadBackoff());
        return base.toBuilder()
                .failureThreshold(failureThreshold)
                .circuitCooldown(circuitCooldown)
                .rateLimitCooldown(rateLimitCooldown)
                .quotaProbe(quotaProbe)
                .disabledProbe(disabledProbe)
                .overloadBackoff(overloadBackoff)
                .build();
    }
}
