package io.keymux.server.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.load.LoadResult;
import io.keymux.config.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code server.max_websocket_session}: default 60m, read as a duration, and must be positive. */
class WebSocketConfigTest {
    private static final String KEYS = "api_keys:\n  - { key_id: k1, api_key: sk-1, task_types: [realtime] }\n";

    @TempDir Path dir;

    @Test
    void defaultsToSixtyMinutes() {
        assertThat(TestConfigs.yaml(dir, KEYS, Map.of()).server().maxWebsocketSession()).isEqualTo(Duration.ofMinutes(60));
    }

    @Test
    void isReadAsADuration() {
        assertThat(TestConfigs.yaml(dir, "server: { max_websocket_session: 90s }\n" + KEYS, Map.of()).server()
                .maxWebsocketSession()).isEqualTo(Duration.ofSeconds(90));
    }

    @Test
    void zeroIsAProblemWithItsPath() {
        LoadResult result = TestConfigs.loadResult(dir, "server: { max_websocket_session: 0s }\n" + KEYS, Map.of());
        assertThat(result.problems()).anySatisfy(problem ->
                assertThat(problem.toString()).contains("server.max_websocket_session"));
    }
}
