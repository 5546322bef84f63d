package io.keymux.config.load;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.keymux.config.model.KeymuxConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Loads a keymux configuration file (SPEC.md section 2): YAML ({@code .yaml}, {@code .yml}) or JSON
 * ({@code .json}), with {@code ${VAR}} and {@code ${VAR:-default}} replaced in every string value
 * before it is typed, then mapped to {@link KeymuxConfig} and validated. Every problem is collected,
 * each with its path; nothing stops at the first.
 *
 * <p>Variables come from, in order of precedence: the real environment, then the {@code --env-file}
 * files (a later file wins over an earlier one), then {@code .env} in the working directory.
 *
 * <pre>{@code
 * LoadResult result = ConfigLoader.loadFromSystem(Path.of("keymux.yaml"), List.of());
 * if (!result.ok()) {
 *     result.problems().forEach(System.err::println);  // api_keys[2].max_rpm: must be > 0 (got -5)
 * }
 * }</pre>
 *
 * <p>Seed-format files (only an {@code api_keys} list) are valid: a task named in a key's
 * {@code task_types} but not declared under {@code tasks} is created with the default task settings;
 * {@code "*"} creates no task, it lends the key to every task as a last resort.
 */
public final class ConfigLoader {

    /** The file read from the working directory when present. */
    public static final String DOT_ENV = ".env";

    private static final ObjectMapper YAML = YAMLMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private ConfigLoader() {}

    /**
     * Loads and validates a configuration.
     *
     * @param configFile the YAML or JSON file
     * @param envFiles {@code --env-file} files in command-line order; each must exist
     * @param environment the process environment (tests pass their own)
     * @param workingDir where {@code .env} is looked for; it is optional
     */
    public static LoadResult load(
            Path configFile, List<Path> envFiles, Map<String, String> environment, Path workingDir) {
        requireNonNull(configFile, "configFile");
        requireNonNull(envFiles, "envFiles");
        requireNonNull(environment, "environment");
        requireNonNull(workingDir, "workingDir");
        List<Problem> problems = new ArrayList<>();
        Map<String, String> vars = variables(envFiles, environment, workingDir, problems);

        Parsed parsed = parse(configFile, problems);
        if (parsed == null) {
            return new LoadResult(null, problems, List.of());
        }
        Path baseDir = configFile.toAbsolutePath().normalize().getParent();
        TreeMapper mapper = new TreeMapper(new Interpolator(vars), baseDir == null ? Path.of("") : baseDir);
        KeymuxConfig config = mapper.map(parsed.tree(), configFile.toString());
        for (Problem p : mapper.problems()) {
            problems.add(p.at(parsed.lines().locate(p.path())));
        }
        return new LoadResult(problems.isEmpty() ? config : null, problems, mapper.warnings());
    }

    /** {@link #load} with {@link System#getenv()} and the current directory. */
    public static LoadResult loadFromSystem(Path configFile, List<Path> envFiles) {
        return load(configFile, envFiles, System.getenv(), Path.of("").toAbsolutePath());
    }

    /**
     * The variables interpolation sees: {@code .env}, overridden by each env file in order,
     * overridden by the environment.
     */
    static Map<String, String> variables(
            List<Path> envFiles, Map<String, String> environment, Path workingDir, List<Problem> problems) {
        Map<String, String> vars = DotEnv.newVars();
        Path dotEnv = workingDir.resolve(DOT_ENV);
        if (Files.isRegularFile(dotEnv)) {
            readEnvFile(dotEnv, vars, problems);
        }
        for (Path f : envFiles) {
            if (!Files.isRegularFile(f)) {
                problems.add(new Problem(f.toString(), "env file not found"));
                continue;
            }
            readEnvFile(f, vars, problems);
        }
        vars.putAll(environment);
        return vars;
    }

    private static void readEnvFile(Path file, Map<String, String> vars, List<Problem> problems) {
        try {
            DotEnv.parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8), vars, problems);
        } catch (IOException e) {
            problems.add(new Problem(file.toString(), "cannot read env file (" + e.getClass().getSimpleName() + ")"));
        }
    }

    /**
     * SnakeYAML's message interleaves descriptions with indented source snippets and carets; keep
     * the descriptions only, since a snippet line may hold a literal key.
     */
    static String parseMessage(String original) {
        String message = original.lines()
                .filter(l -> !l.isEmpty() && !Character.isWhitespace(l.charAt(0)))
                .collect(Collectors.joining("; "));
        if (message.contains("scanning an alias")) {
            // The usual cause: an unquoted * in task_types, which YAML reads as an alias.
            message += " (quote a literal *: task_types: [\"*\"])";
        }
        return message;
    }

    /** A file's tree and where each of its values is written. */
    private record Parsed(JsonNode tree, ConfigLines lines) {}

    private static @Nullable Parsed parse(Path file, List<Problem> problems) {
        String where = file.toString();
        if (!Files.exists(file)) {
            problems.add(new Problem(where, "config file not found"));
            return null;
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        ObjectMapper mapper;
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
            mapper = YAML;
        } else if (name.endsWith(".json")) {
            mapper = JSON;
        } else {
            problems.add(new Problem(where, "unsupported file type (expected: .yaml, .yml or .json)"));
            return null;
        }
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            JsonNode tree = mapper.readTree(text);
            if (tree == null || tree.isMissingNode() || tree.isNull()) {
                problems.add(new Problem(where, "is empty (expected: at least an api_keys list)"));
                return null;
            }
            return new Parsed(tree, ConfigLines.of(where, text, mapper));
        } catch (JsonProcessingException e) {
            // The original message only: Jackson's full message quotes source text, which may hold a key.
            JsonLocation loc = e.getLocation();
            String at = loc == null ? where : where + ":" + loc.getLineNr() + ":" + loc.getColumnNr();
            problems.add(new Problem(at, "cannot parse: " + parseMessage(e.getOriginalMessage())));
            return null;
        } catch (IOException e) {
            problems.add(new Problem(where, "cannot read (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")"));
            return null;
        }
    }
}
