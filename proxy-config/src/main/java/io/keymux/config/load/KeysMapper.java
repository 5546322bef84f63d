package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.ModelLimits;
import io.keymux.config.model.Secret;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The {@code api_keys} list, read into drafts: a key's upstream can be resolved only once every task
 * is known (see {@link CrossReferences#resolveUpstreams}).
 */
final class KeysMapper extends SectionMapper {
    static final List<String> KEY_FIELDS = List.of(
            "key_id", "api_key", "upstream", "task_types", "max_rpm", "max_tpm", "rpm_burst", "tpm_burst",
            "max_concurrent", "priority", "weight", "cost_per_token", "cost_per_input_token", "cost_per_output_token",
            "cost_per_cached_input_token", "daily_budget_usd", "models", "budget_warn_at");
    static final List<String> MODEL_LIMIT_FIELDS = List.of("max_rpm", "max_tpm");

    /** Set when some key's task_types could not be read, so "task has no key" would be a false alarm. */
    private boolean keysIncomplete;

    KeysMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    /**
     * An api_keys entry before its upstream can be resolved (that needs every task): everything
     * else is already in {@code key}.
     */
    record KeyDraft(String path, @Nullable String ownUpstream, List<String> taskTypes, ApiKeyConfig.Builder key) {

        ApiKeyConfig build(String upstream) {
            return key.upstream(upstream).build();
        }
    }

    List<KeyDraft> keys(ObjectNode root) {
        List<KeyDraft> keys = new ArrayList<>();
        JsonNode node = field(root, "api_keys");
        if (node == null || !node.isArray()) {
            // Without keys, "task has no key" would repeat this problem once per task.
            keysIncomplete = true;
            problem("api_keys", node == null
                    ? "is required (expected: a list of at least one key)"
                    : "must be a list (got " + describe(node) + ")");
            return keys;
        }
        if (node.isEmpty()) {
            problem("api_keys", "must list at least one key");
        }
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < node.size(); i++) {
            String path = "api_keys[" + i + "]";
            ObjectNode o = object(node.get(i), path, KEY_FIELDS);
            if (o == null) {
                keysIncomplete = true;
                if (node.get(i).isNull()) {
                    problem(path, "must be an object with key_id and api_key");
                }
                continue;
            }
            String keyId = required(o, "key_id", path + ".key_id") ? nonEmptyString(o, "key_id", path + ".key_id") : null;
            if (keyId != null) {
                String first = seen.putIfAbsent(keyId, path);
                if (first != null) {
                    problem(path + ".key_id", "duplicate key_id " + quoted(keyId) + " (first at " + first + ")");
                }
            }
            String apiKey = null;
            if (required(o, "api_key", path + ".api_key")) {
                apiKey = secret(o, "api_key", path + ".api_key");
                if (apiKey != null && apiKey.isBlank()) {
                    problem(path + ".api_key", "must not be empty");
                } else if (apiKey != null && Placeholders.isPlaceholder(apiKey)) {
                    diag.warn(Placeholders.warning(path + ".api_key", o.get("api_key").asText()));
                }
            }
            List<String> taskTypes = null;
            int before = diag.count();
            if (required(o, "task_types", path + ".task_types")) {
                taskTypes = stringList(o, "task_types", path + ".task_types");
            }
            if (diag.count() > before) {
                keysIncomplete = true;
            }
            if (taskTypes != null && taskTypes.isEmpty() && diag.count() == before) {
                problem(path + ".task_types", "must list at least one task, or \"*\"");
            }
            Long maxRpm = positiveLong(o, "max_rpm", path + ".max_rpm");
            Long maxTpm = positiveLong(o, "max_tpm", path + ".max_tpm");
            Long rpmBurst = positiveLong(o, "rpm_burst", path + ".rpm_burst");
            Long tpmBurst = positiveLong(o, "tpm_burst", path + ".tpm_burst");
            if (rpmBurst != null && maxRpm == null && !o.has("max_rpm")) {
                problem(path + ".rpm_burst", "requires max_rpm");
            }
            if (tpmBurst != null && maxTpm == null && !o.has("max_tpm")) {
                problem(path + ".tpm_burst", "requires max_tpm");
            }
            String ownUpstream = string(o, "upstream", path + ".upstream");
            List<String> types = taskTypes == null ? List.of() : taskTypes;
            // An unset burst is the per-minute limit, as SPEC.md section 2 says.
            ApiKeyConfig.Builder key = ApiKeyConfig.builder(keyId == null ? "" : keyId,
                            Secret.of(apiKey == null ? "" : apiKey))
                    .taskTypes(types)
                    .maxRpm(maxRpm)
                    .maxTpm(maxTpm)
                    .rpmBurst(rpmBurst != null ? rpmBurst : maxRpm)
                    .tpmBurst(tpmBurst != null ? tpmBurst : maxTpm)
                    .maxConcurrent(positiveInt(o, "max_concurrent", path + ".max_concurrent"))
                    .priority(intOr(integerIn(o, "priority", path + ".priority", Integer.MIN_VALUE,
                            Integer.MAX_VALUE), 0))
                    .weight(intOr(positiveInt(o, "weight", path + ".weight"), 1))
                    .costPerToken(nonNegative(o, "cost_per_token", path + ".cost_per_token"))
                    .costPerInputToken(nonNegative(o, "cost_per_input_token", path + ".cost_per_input_token"))
                    .costPerOutputToken(nonNegative(o, "cost_per_output_token", path + ".cost_per_output_token"))
                    .costPerCachedInputToken(nonNegative(o, "cost_per_cached_input_token",
                            path + ".cost_per_cached_input_token"))
                    .dailyBudgetUsd(nonNegative(o, "daily_budget_usd", path + ".daily_budget_usd"))
                    .models(modelLimits(field(o, "models"), path + ".models"))
                    .budgetWarnAt(budgetWarnAt(o, path));
            keys.add(new KeyDraft(path, ownUpstream, types, key));
        }
        return keys;
    }

    List<ModelLimits> modelLimits(@Nullable JsonNode node, String path) {
        List<ModelLimits> models = new ArrayList<>();
        if (node == null) {
            return models;
        }
        if (!node.isObject()) {
            problem(path, "must be a map of model pattern to {max_rpm, max_tpm} (got " + describe(node) + ")");
            return models;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String entryPath = path + "[\"" + e.getKey() + "\"]";
            if (e.getKey().isBlank()) {
                problem(path, "a model pattern must not be empty");
                continue;
            }
            ObjectNode o = object(e.getValue(), entryPath, MODEL_LIMIT_FIELDS);
            if (o == null) {
                if (e.getValue().isNull()) {
                    problem(entryPath, "must be an object with max_rpm and/or max_tpm");
                }
                continue;
            }
            Long rpm = positiveLong(o, "max_rpm", entryPath + ".max_rpm");
            Long tpm = positiveLong(o, "max_tpm", entryPath + ".max_tpm");
            if (field(o, "max_rpm") == null && field(o, "max_tpm") == null) {
                problem(entryPath, "must set max_rpm or max_tpm");
            }
            models.add(new ModelLimits(e.getKey(), rpm, tpm));
        }
        return models;
    }

    @Nullable Double budgetWarnAt(ObjectNode o, String path) {
        Double share = number(o, "budget_warn_at", path + ".budget_warn_at");
        if (share != null && !(share > 0 && share <= 1)) {
            problem(path + ".budget_warn_at", "must be > 0 and <= 1 (got " + got(o.get("budget_warn_at")) + ")");
            return null;
        }
        if (share != null && field(o, "daily_budget_usd") == null) {
            problem(path + ".budget_warn_at", "requires daily_budget_usd");
        }
        return share;
    }

    /** Whether some key could not be read whole, so its tasks are unknown. */
    boolean incomplete() {
        return keysIncomplete;
    }
}
