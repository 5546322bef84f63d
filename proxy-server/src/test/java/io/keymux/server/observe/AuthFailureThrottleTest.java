package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.keymux.core.auth.AuthFailures;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * An address that keeps presenting wrong client keys or a wrong admin token gets its 401s later and
 * later (the first five of a minute at once), is logged once by address, never by what it sent, and
 * the right credential is still answered.
 */
class AuthFailureThrottleTest extends ObserveTestBase {
    private static final String GUESS = "ck-guessed-3b9f1e7a";
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(AuthFailures.class);

    @BeforeEach
    void captureLog() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void releaseLog() {
        logger.detachAppender(logged);
    }

    private void start() {
        startKeymux(yaml("""
                admin: { token: "${ADMIN_TOKEN}" }
                tasks:
                  - name: chat
                api_keys:
                  - key_id: k1
                    api_key: ${KEY_A}
                    task_types: [chat]
                clients:
                  - name: app
                    key: ${CLIENT_KEY}
                """));
    }

    @Test
    void wrongClientKeysFromOneAddressAreAnsweredSlowerAndSlower() {
        start();
        for (int i = 0; i < 5; i++) {
            assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + GUESS + i)
                    .status()).isEqualTo(401);
        }
        long sixthStarted = System.nanoTime();
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + GUESS).status())
                .isEqualTo(401);
        long sixthMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sixthStarted);
        long seventhStarted = System.nanoTime();
        Answer seventh = post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + GUESS);
        long seventhMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - seventhStarted);

        assertThat(seventh.status()).isEqualTo(401);
        assertThat(seventh.body()).contains("invalid_client_key").doesNotContain(GUESS);
        assertThat(sixthMillis).as("the sixth failure waits 100 ms").isGreaterThanOrEqualTo(100);
        assertThat(seventhMillis).as("the seventh waits 200 ms").isGreaterThanOrEqualTo(200);
        assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + CLIENT, "X-Task-Type", "chat").status())
                .as("the right key is still served").isEqualTo(200);
        assertThat(logged.list).hasSize(1);
        String line = logged.list.get(0).getFormattedMessage();
        assertThat(line).contains("127.0.0.1").contains("client key").doesNotContain(GUESS);
    }

    @Test
    void aWebSocketUpgradeWithAWrongKeyCountsAndWaitsLikeAPlainRequest() throws Exception {
        start();
        for (int i = 0; i < 5; i++) {
            assertThat(post("/v1/chat/completions", chatBody("gpt-4o"), "Authorization", "Bearer " + GUESS + i)
                    .status()).isEqualTo(401);
        }
        long started = System.nanoTime();
        String answer = upgrade(GUESS);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);

        assertThat(answer).startsWith("HTTP/1.1 401").contains("invalid_client_key").doesNotContain(GUESS);
        assertThat(millis).as("the sixth failure, an upgrade, waits 100 ms").isGreaterThanOrEqualTo(100);
        assertThat(logged.list).hasSize(1);
        assertThat(logged.list.get(0).getFormattedMessage()).contains("client key").doesNotContain(GUESS);
    }

    /** A raw WebSocket upgrade to /v1/realtime with {@code key}; the whole answer keymux sends. */
    private String upgrade(String key) throws java.io.IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", keymux.proxyPort())) {
            socket.setSoTimeout(20_000);
            String request = "GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer " + key + "\r\n\r\n";
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            byte[] buf = new byte[4096];
            StringBuilder answer = new StringBuilder();
            java.io.InputStream in = socket.getInputStream();
            int n;
            while (!answer.toString().contains("}") && (n = in.read(buf)) > 0) {
                answer.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8));
            }
            return answer.toString();
        }
    }

    @Test
    void wrongAdminTokensFromOneAddressAreAnsweredSlowerAndSlower() {
        start();
        for (int i = 0; i < 5; i++) {
            assertThat(admin("/admin/keys", "wrong-token-" + i).status()).isEqualTo(401);
        }
        long started = System.nanoTime();
        assertThat(admin("/admin/keys", "wrong-token").status()).isEqualTo(401);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);

        assertThat(millis).as("the sixth failure waits 100 ms").isGreaterThanOrEqualTo(100);
        assertThat(admin("/admin/keys", ADMIN_TOKEN).status()).isEqualTo(200);
        assertThat(logged.list).hasSize(1);
        assertThat(logged.list.get(0).getFormattedMessage()).contains("admin token").contains("127.0.0.1")
                .doesNotContain("wrong-token").doesNotContain(ADMIN_TOKEN);
    }
}
