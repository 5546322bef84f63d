package io.keymux.core.classify;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.MatchRule;
import io.keymux.config.model.TaskConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.LinkedHashSet;
import org.jspecify.annotations.Nullable;

/**
 * Decides a request's task in SPEC.md order: task header, {@code /tasks/{task}/} prefix (stripped
 * even when the header wins), {@code match} rules in declaration order, {@code default_task}.
 * Immutable and thread-safe; build one per configuration.
 *
 * <pre>{@code
 * TaskClassifier classifier = TaskClassifier.of(config);
 * Classification c = classifier.classify(new RequestFacts(null, "/v1/chat/completions", "gpt-4o", h -> null));
 * }</pre>
 */
public final class TaskClassifier {
    private final Set<String> known;
    private final List<CompiledRule> rules;
    private final @Nullable String defaultTask;

    private TaskClassifier(Set<String> known, List<CompiledRule> rules, @Nullable String defaultTask) {
        this.known = known;
        this.rules = rules;
        this.defaultTask = defaultTask;
    }

    /** The classifier for a configuration. */
    public static TaskClassifier of(KeymuxConfig config) {
        Objects.requireNonNull(config, "config");
        Set<String> known = new LinkedHashSet<>();
        List<CompiledRule> rules = new ArrayList<>();
        for (TaskConfig task : config.tasks()) {
            known.add(task.name());
            MatchRule match = task.match();
            if (match != null) {
                rules.add(CompiledRule.of(task.name(), match));
            }
        }
        return new TaskClassifier(Collections.unmodifiableSet(known), List.copyOf(rules), config.defaultTask());
    }

    /** Classifies one request. */
    public Classification classify(RequestFacts facts) {
        Objects.requireNonNull(facts, "facts");
        if (hasDotSegment(facts.rawPath())) {
            return new Classification.BadRequest("the path may not contain '.' or '..' segments (plain or percent-encoded)");
        }
        TaskPrefix prefix = TaskPrefix.parse(facts.rawPath());
        if (prefix instanceof TaskPrefix.Invalid invalid) {
            return new Classification.BadRequest(invalid.message());
        }
        String forwardPath = prefix instanceof TaskPrefix.Present present ? present.forwardPath() : facts.rawPath();
        String header = facts.taskHeader();
        if (header != null) {
            return known.contains(header)
                    ? new Classification.Classified(header, forwardPath, "header")
                    : new Classification.UnknownTask(header, List.copyOf(known));
        }
        if (prefix instanceof TaskPrefix.Present present) {
            return known.contains(present.task())
                    ? new Classification.Classified(present.task(), forwardPath, "path")
                    : new Classification.UnknownTask(present.task(), List.copyOf(known));
        }
        for (CompiledRule rule : rules) {
            if (rule.matches(facts)) {
                return new Classification.Classified(rule.task, forwardPath, "match");
            }
        }
        if (defaultTask != null) {
            return new Classification.Classified(defaultTask, forwardPath, "default");
        }
        return new Classification.NoTaskMatched();
    }

    /** Whether any segment is {@code .} or {@code ..}, also when spelled with {@code %2e}. */
    static boolean hasDotSegment(String rawPath) {
        int start = 0;
        while (start <= rawPath.length()) {
            int end = rawPath.indexOf('/', start);
            if (end < 0) {
                end = rawPath.length();
            }
            String segment = rawPath.substring(start, end).toLowerCase(Locale.ROOT).replace("%2e", ".");
            if (segment.equals(".") || segment.equals("..")) {
                return true;
            }
            start = end + 1;
        }
        return false;
    }

    private record CompiledRule(String task, @Nullable Glob path, @Nullable Glob model, Map<String, String> headers) {
        static CompiledRule of(String task, MatchRule rule) {
            return new CompiledRule(
                    task,
                    rule.path() == null ? null : Glob.of(rule.path()),
                    rule.model() == null ? null : Glob.of(rule.model()),
                    rule.headers());
        }

        boolean matches(RequestFacts facts) {
            if (path != null && !path.matches(pathOnly(facts.rawPath()))) {
                return false;
            }
            if (model != null && (facts.model() == null || !model.matches(facts.model()))) {
                return false;
            }
            for (Map.Entry<String, String> h : headers.entrySet()) {
                if (!h.getValue().equals(facts.header().apply(h.getKey()))) {
                    return false;
                }
            }
            return true;
        }

        private static String pathOnly(String rawPath) {
            int q = rawPath.indexOf('?');
            return q < 0 ? rawPath : rawPath.substring(0, q);
        }
    }
}
