package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.Secret;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** The {@code clients} list. */
final class ClientsMapper extends SectionMapper {
    static final List<String> CLIENT_FIELDS =
            List.of("name", "key", "key_sha256", "allowed_tasks", "max_rpm", "daily_budget_usd");

    /** Source lists of clients' allowed_tasks, by client position, to report unknown names in order. */
    private final List<@Nullable JsonNode> clientAllowedNodes = new ArrayList<>();

    ClientsMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    void clients(ObjectNode root, List<ClientConfig> clients, List<String> paths) {
        JsonNode node = field(root, "clients");
        if (node == null) {
            return;
        }
        if (!node.isArray()) {
            problem("clients", "must be a list (got " + describe(node) + ")");
            return;
        }
        Map<String, String> seenNames = new HashMap<>();
        Map<String, String> seenKeys = new HashMap<>();
        for (int i = 0; i < node.size(); i++) {
            String path = "clients[" + i + "]";
            ObjectNode o = object(node.get(i), path, CLIENT_FIELDS);
            if (o == null) {
                if (node.get(i).isNull()) {
                    problem(path, "must be an object with name and key or key_sha256");
                }
                continue;
            }
            String name = required(o, "name", path + ".name") ? nonEmptyString(o, "name", path + ".name") : null;
            if (name != null) {
                String first = seenNames.putIfAbsent(name, path);
                if (first != null) {
                    problem(path + ".name", "duplicate client " + quoted(name) + " (first at " + first + ")");
                }
            }
            boolean hasKey = field(o, "key") != null;
            boolean hasSha = field(o, "key_sha256") != null;
            if (hasKey == hasSha) {
                problem(path, "exactly one of key and key_sha256 must be set");
            }
            Secret key = null;
            String sha = null;
            if (hasKey) {
                String k = secret(o, "key", path + ".key");
                if (k != null && k.isBlank()) {
                    problem(path + ".key", "must not be empty");
                } else if (k != null) {
                    key = Secret.of(k);
                    sha = sha256Hex(k);
                }
            }
            if (hasSha) {
                String s = string(o, "key_sha256", path + ".key_sha256");
                if (s != null && !SHA256_HEX.matcher(s).matches()) {
                    problem(path + ".key_sha256", "must be 64 hex characters (the SHA-256 of the client key)");
                } else if (s != null) {
                    sha = s.toLowerCase(Locale.ROOT);
                }
            }
            if (sha != null && hasKey != hasSha) {
                // Compare digests so two clients sharing a key are caught without handling the key itself.
                String first = seenKeys.putIfAbsent(sha, path);
                if (first != null) {
                    problem(path, "same client key as " + first + " (each client needs its own key)");
                }
            }
            List<String> allowed = stringList(o, "allowed_tasks", path + ".allowed_tasks");
            clientAllowedNodes.add(field(o, "allowed_tasks"));
            clients.add(ClientConfig.builder(name == null ? "" : name)
                    .key(key)
                    .keySha256(hasSha ? sha : null)
                    .allowedTasks(allowed == null ? null : new LinkedHashSet<>(allowed))
                    .maxRpm(positiveLong(o, "max_rpm", path + ".max_rpm"))
                    .dailyBudgetUsd(nonNegative(o, "daily_budget_usd", path + ".daily_budget_usd"))
                    .build());
            paths.add(path);
        }
    }

    /** Each client's allowed_tasks as written, in client order. */
    List<@Nullable JsonNode> allowedTaskNodes() {
        return clientAllowedNodes;
    }
}
