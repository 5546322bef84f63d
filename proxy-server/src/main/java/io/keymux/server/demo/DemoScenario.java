package io.keymux.server.demo;

import io.keymux.config.load.ConfigLoader;
import io.keymux.config.load.LoadResult;
import io.keymux.config.model.KeymuxConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The demo's world: which mock key plays which part, and the DentaMind configuration that keymux
 * loads through the same {@link ConfigLoader} as {@code serve}. Key values are random per run and
 * fake; they exist only in this process.
 */
final class DemoScenario {
    /** Key id in the config → the variable the config reads its secret from. */
    private static final Map<String, String> KEY_VARS = new LinkedHashMap<>();

    static {
        KEY_VARS.put("diagnosis_primary", "K_DIAG_1");
        KEY_VARS.put("diagnosis_secondary", "K_DIAG_2");
        KEY_VARS.put("xray_vision", "K_XRAY");
        KEY_VARS.put("chat_primary", "K_CHAT_1");
        KEY_VARS.put("chat_secondary", "K_CHAT_2");
        KEY_VARS.put("scheduling_light", "K_SCHED_1");
        KEY_VARS.put("scheduling_mini", "K_SCHED_2");
        KEY_VARS.put("billing_primary", "K_BILL_1");
        KEY_VARS.put("billing_reserve", "K_BILL_2");
        KEY_VARS.put("finance_batch", "K_FIN");
        KEY_VARS.put("backup_general", "K_BACKUP");
    }

    final Map<String, String> secrets = new HashMap<>();
    final String clientKey = "demo-client-" + randomHex();
    final String adminToken = "demo-admin-" + randomHex();

    DemoScenario() {
        for (String keyId : KEY_VARS.keySet()) {
            secrets.put(keyId, "demo-" + keyId + "-" + randomHex());
        }
    }

    /**
     * The mock upstream's keys: most healthy with some latency; {@code chat_primary} answers 429
     * with Retry-After for the first 40% of the run, {@code diagnosis_secondary} fails with 500s for
     * the first 30%, and {@code billing_primary} is an invalid key (401).
     */
    List<MockKey> mockKeys(Duration run) {
        Duration latency = Duration.ofMillis(40);
        return List.of(
                MockKey.healthy("diagnosis_primary", secrets.get("diagnosis_primary"), 0, Duration.ofMillis(60)),
                new MockKey("diagnosis_secondary", secrets.get("diagnosis_secondary"), 0, Duration.ofMillis(60),
                        MockKey.Fault.SERVER_ERROR, run.multipliedBy(3).dividedBy(10)),
                // The vision provider has an overloaded spell: its 529s send X-rays to the backup pool's upstream.
                new MockKey("xray_vision", secrets.get("xray_vision"), 0, Duration.ofMillis(120),
                        MockKey.Fault.OVERLOADED, run.multipliedBy(5).dividedBy(10)),
                new MockKey("chat_primary", secrets.get("chat_primary"), 0, Duration.ofMillis(30),
                        MockKey.Fault.RATE_LIMITED, run.multipliedBy(4).dividedBy(10)),
                MockKey.healthy("chat_secondary", secrets.get("chat_secondary"), 0, Duration.ofMillis(30)),
                MockKey.healthy("scheduling_light", secrets.get("scheduling_light"), 0, latency),
                // The cheapest key's account is out of credit: quota_exhausted, and a top-up recommendation.
                new MockKey("scheduling_mini", secrets.get("scheduling_mini"), 0, latency,
                        MockKey.Fault.QUOTA_EXHAUSTED, Duration.ZERO),
                new MockKey("billing_primary", secrets.get("billing_primary"), 0, latency, MockKey.Fault.INVALID,
                        Duration.ZERO),
                MockKey.healthy("billing_reserve", secrets.get("billing_reserve"), 0, latency),
                MockKey.healthy("finance_batch", secrets.get("finance_batch"), 0, Duration.ofMillis(80)),
                MockKey.healthy("backup_general", secrets.get("backup_general"), 0, latency));
    }

    /** The traffic mix: tasks by weight, some addressed by path prefix, some streamed. */
    List<DemoTraffic.TaskMix> mix() {
        return List.of(
                new DemoTraffic.TaskMix("diagnosis", 5, false, 0.3),
                new DemoTraffic.TaskMix("xray", 2, true, 0.0),
                new DemoTraffic.TaskMix("chat", 6, false, 0.7),
                new DemoTraffic.TaskMix("scheduling", 3, true, 0.0),
                new DemoTraffic.TaskMix("billing", 2, false, 0.0),
                new DemoTraffic.TaskMix("finance", 1, true, 0.0));
    }

    /** Loads the DentaMind demo configuration against the mock, on free ports. */
    KeymuxConfig config(int mockPort, Path workDir) {
        Path file = workDir.resolve("dentamind-demo.yaml");
        try (InputStream in = DemoScenario.class.getResourceAsStream("/demo/dentamind-demo.yaml")) {
            if (in == null) {
                throw new IllegalStateException("demo/dentamind-demo.yaml is missing from the jar");
            }
            Files.copy(in, file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> env = new HashMap<>();
        env.put("MOCK_URL", "http://127.0.0.1:" + mockPort);
        env.put("PROXY_PORT", "0");
        env.put("ADMIN_PORT", "0");
        env.put("DEMO_ADMIN_TOKEN", adminToken);
        env.put("DEMO_CLIENT_KEY", clientKey);
        KEY_VARS.forEach((keyId, var) -> env.put(var, secrets.get(keyId)));
        LoadResult result = ConfigLoader.load(file, List.of(), env, workDir);
        if (result.config() == null) {
            throw new IllegalStateException("the demo configuration is invalid: " + result.problems());
        }
        return result.config();
    }

    private static String randomHex() {
        return Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    }
}
