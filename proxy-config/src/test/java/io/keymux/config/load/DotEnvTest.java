package io.keymux.config.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DotEnvTest {

    @Test
    void parsesAssignmentsExportQuotesAndComments() {
        Map<String, String> vars = DotEnv.newVars();
        List<Problem> problems = new ArrayList<>();
        DotEnv.parse(".env", List.of(
                "# a comment",
                "",
                "PLAIN=value",
                "export EXPORTED=yes",
                "DOUBLE=\"with spaces # not a comment\"",
                "ESCAPED=\"line\\nbreak \\\"q\\\"\"",
                "SINGLE='raw $X \\n'",
                "TRAILING=value # a comment",
                "HASH=abc#def",
                "EMPTY=",
                "  SPACED = padded  "), vars, problems);
        assertThat(problems).isEmpty();
        assertThat(vars).containsExactlyEntriesOf(orderedMap(
                "PLAIN", "value",
                "EXPORTED", "yes",
                "DOUBLE", "with spaces # not a comment",
                "ESCAPED", "line\nbreak \"q\"",
                "SINGLE", "raw $X \\n",
                "TRAILING", "value",
                "HASH", "abc#def",
                "EMPTY", "",
                "SPACED", "padded"));
    }

    @Test
    void laterAssignmentWins() {
        Map<String, String> vars = DotEnv.newVars();
        DotEnv.parse("f", List.of("A=1", "A=2"), vars, new ArrayList<>());
        assertThat(vars).containsEntry("A", "2");
    }

    @Test
    void malformedLinesAreProblemsWithFileAndLineButNoContent() {
        Map<String, String> vars = DotEnv.newVars();
        List<Problem> problems = new ArrayList<>();
        DotEnv.parse("secrets.env", List.of("OK=1", "sk-not-an-assignment", "BAD NAME=x", "Q=\"sk-open"),
                vars, problems);
        assertThat(problems).extracting(Problem::toString).containsExactly(
                "secrets.env:2: expected KEY=VALUE",
                "secrets.env:3: invalid variable name (expected: letters, digits and _)",
                "secrets.env:4: unterminated quoted value for Q");
        assertThat(problems.toString()).doesNotContain("sk-");
    }

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
