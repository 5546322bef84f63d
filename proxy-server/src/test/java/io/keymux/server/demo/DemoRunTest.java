package io.keymux.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The README's first command, shortened: the demo runs through the real server and answers everything. */
class DemoRunTest {

    @Test
    void shortDemoAnswersEveryRequestAndPrintsTheReport() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

        int exit = new DemoRun(Duration.ofSeconds(4), out, false).run();

        String report = bytes.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(report).isZero();
        assertThat(report)
                .contains("Allocation: requests per task and key")
                .contains("Failovers by reason")
                .contains("Keys that left the active state, and why")
                .contains("Queue wait by task priority")
                .contains("Keys: state, tokens and cost")
                .contains("Tasks: tokens and cost")
                .contains("Cache: repeated requests answered once")
                // chat and scheduling cache; a third of their traffic repeats a common question.
                .containsPattern("(?m)^\\W*chat\\W+[1-9]\\d*\\W+\\d+\\W+[1-9]\\d*\\W+\\d+\\W+\\$?0\\.\\d*[1-9]")
                .contains("Recommendations (optimization score")
                .containsPattern("(\\d+) of \\1 requests answered: \\d+ by an upstream, \\d+ by a deliberate keymux"
                        + " error, 0 lost")
                .contains("OK: every request got an answer");
    }
}
