package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The checks that need every name first: upstreams and tasks named by other entries, fallbacks,
 * clients' allowed tasks, every task having a key; and each key's upstream, resolved once the tasks
 * are known. Problems go to the same {@link Diagnostics} as the sections', in the same pass.
 */
final class CrossReferences extends SectionMapper {

    CrossReferences(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    /** Each key's upstream: its own, else its first task's, else default_upstream. */
    List<ApiKeyConfig> resolveUpstreams(List<KeysMapper.KeyDraft> keys, Map<String, UpstreamConfig> upstreams,
            String defaultUpstream, Map<String, TaskConfig> byName) {
        List<ApiKeyConfig> apiKeys = new ArrayList<>();
        for (KeysMapper.KeyDraft k : keys) {
            String upstream = k.ownUpstream();
            if (upstream != null) {
                checkUpstream(upstreams, upstream, k.path() + ".upstream");
            } else {
                upstream = defaultUpstream;
                for (String type : k.taskTypes()) {
                    if (!type.equals(ApiKeyConfig.ANY_TASK)) {
                        TaskConfig t = byName.get(type);
                        if (t != null && t.upstream() != null) {
                            upstream = t.upstream();
                        }
                        break;
                    }
                }
            }
            apiKeys.add(k.build(upstream));
        }
        return apiKeys;
    }

    /** allowed_tasks names, reported in file order (the model holds a set, so walk the source lists). */
    void checkAllowedTasks(List<String> clientPaths, List<@Nullable JsonNode> clientAllowedNodes,
            Map<String, TaskConfig> byName) {
        for (int c = 0; c < clientPaths.size(); c++) {
            JsonNode list = clientAllowedNodes.get(c);
            if (list == null || !list.isArray()) {
                continue;
            }
            for (int a = 0; a < list.size(); a++) {
                String name = list.get(a).isTextual() ? interpolateQuietly(list.get(a).textValue()) : null;
                if (name != null && !byName.containsKey(name)) {
                    problem(clientPaths.get(c) + ".allowed_tasks[" + a + "]", "unknown task " + quoted(name));
                }
            }
        }
    }

    void checkEveryTaskHasAKey(
            List<TaskConfig> tasks, List<String> paths, List<ApiKeyConfig> keys, boolean keysIncomplete) {
        boolean anyKey = keys.stream().anyMatch(ApiKeyConfig::servesAnyTask);
        if (anyKey || keysIncomplete) {
            return;
        }
        Set<String> served = new HashSet<>();
        for (ApiKeyConfig k : keys) {
            served.addAll(k.taskTypes());
        }
        for (int i = 0; i < tasks.size(); i++) {
            TaskConfig t = tasks.get(i);
            if (t.name().isEmpty() || served.contains(t.name())) {
                continue;
            }
            boolean viaFallback = t.fallback().stream().anyMatch(served::contains);
            if (!viaFallback) {
                problem(paths.get(i), "task " + quoted(t.name()) + " has no key (expected: an api_keys entry listing it"
                        + " in task_types, a fallback task with keys, or a key with task_types [\"*\"])");
            }
        }
    }

    void checkUpstream(Map<String, UpstreamConfig> upstreams, String name, String path) {
        if (!upstreams.containsKey(name)) {
            problem(path, "unknown upstream " + quoted(name) + " (expected one of: "
                    + String.join(", ", upstreams.keySet()) + ")");
        }
    }

    static String expectedOneOf(Set<String> names, List<TaskConfig> inOrder) {
        if (names.isEmpty()) {
            return "";
        }
        return " (expected one of: " + inOrder.stream().map(TaskConfig::name).filter(n -> !n.isEmpty()).distinct()
                .collect(Collectors.joining(", ")) + ")";
    }

    /** Each declared task's upstream and fallbacks name things that exist (a task cannot fall back to itself). */
    void checkTasks(List<TaskConfig> tasks, List<String> taskPaths, Map<String, UpstreamConfig> upstreams,
            Map<String, TaskConfig> byName) {
        for (int i = 0; i < tasks.size(); i++) {
            TaskConfig t = tasks.get(i);
            String path = taskPaths.get(i);
            if (t.upstream() != null) {
                checkUpstream(upstreams, t.upstream(), path + ".upstream");
            }
            for (int f = 0; f < t.fallback().size(); f++) {
                String target = t.fallback().get(f);
                if (!byName.containsKey(target)) {
                    problem(path + ".fallback[" + f + "]", "unknown task " + quoted(target));
                } else if (target.equals(t.name())) {
                    problem(path + ".fallback[" + f + "]", "a task cannot fall back to itself");
                }
            }
        }
    }
}
