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
