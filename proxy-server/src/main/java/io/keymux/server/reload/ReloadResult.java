package io.keymux.server.reload;

import io.keymux.config.model.KeymuxConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a reload did: {@link Applied} (the new configuration serves every new request) or
 * {@link Refused} (the old one keeps serving). Never holds a secret: problems name paths, not values.
 */
public sealed interface ReloadResult {

    /** The JSON body of {@code POST /admin/reload}. */
    Map<String, Object> body();

    /** The HTTP status of {@code POST /admin/reload}: 200 or 422. */
    int status();

    /**
     * The new configuration was swapped in.
     *
     * @param restartRequired settings that changed but only apply after a restart (for example
     *     {@code server.port}); empty when everything applied
     */
    record Applied(int upstreams, int tasks, int keys, int clients, List<String> restartRequired)
            implements ReloadResult {

        public Applied {
            restartRequired = List.copyOf(restartRequired);
        }

        /** The summary of a configuration that was applied. */
        public static Applied of(KeymuxConfig config, List<String> restartRequired) {
            return new Applied(config.upstreams().size(), config.tasks().size(), config.apiKeys().size(),
                    config.clients().size(), restartRequired);
        }

        @Override
        public Map<String, Object> body() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("status", "reloaded");
            body.put("upstreams", upstreams);
            body.put("tasks", tasks);
            body.put("keys", keys);
            body.put("clients", clients);
            if (!restartRequired.isEmpty()) {
                body.put("restart_required", restartRequired);
            }
            return body;
        }

        @Override
        public int status() {
            return 200;
        }
    }

    /**
     * The new configuration was refused.
     *
     * @param error what happened, for example {@code invalid configuration}
     * @param problems each as {@code path: message}
     */
    record Refused(String error, List<String> problems) implements ReloadResult {

        public Refused {
            Objects.requireNonNull(error, "error");
            problems = List.copyOf(problems);
        }

        @Override
        public Map<String, Object> body() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", error);
            body.put("problems", problems);
            return body;
        }

        @Override
        public int status() {
            return 422;
        }
    }
}
