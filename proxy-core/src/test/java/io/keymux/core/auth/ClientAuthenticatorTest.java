package io.keymux.core.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.AdminConfig;
import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.HealthConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.LimitsConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ClientAuthenticatorTest {

    private static KeymuxConfig config(boolean allowUnauthenticated, List<ClientConfig> clients) {
        ServerConfig d = ServerConfig.defaults();
        ServerConfig server = new ServerConfig(d.port(), d.adminPort(), d.maxBodyBytes(), d.taskHeader(),
                d.exposeKeyId(), allowUnauthenticated, d.drainTimeout(), d.bind(), d.maxHeaderBytes(),
                d.maxUriBytes(), d.requestHeaderTimeout(), d.idleTimeout(), d.maxConnections(), null, null);
        return new KeymuxConfig(server, HealthConfig.defaults(), new AdminConfig(null), LimitsConfig.defaults(),
                Map.of(), "openai", null, List.of(), List.of(), clients);
    }

    private static final List<ClientConfig> CLIENTS = List.of(
            new ClientConfig("plain", Secret.of("ck-plain"), null, Set.of("chat"), null, null),
            new ClientConfig("hashed", null, ClientAuthenticator.sha256Hex("ck-hashed"), null, null, null));

    @Test
    void plainAndHashedKeysIdentifyTheirClient() {
        ClientAuthenticator auth = ClientAuthenticator.of(config(false, CLIENTS));
        assertThat(auth.authenticate("ck-plain", false)).isInstanceOfSatisfying(AuthDecision.Admitted.class, a -> {
            assertThat(a.clientName()).isEqualTo("plain");
            assertThat(a.mayUse("chat")).isTrue();
            assertThat(a.mayUse("other")).isFalse();
        });
        assertThat(auth.authenticate("ck-hashed", false)).isInstanceOfSatisfying(AuthDecision.Admitted.class,
                a -> assertThat(a.mayUse("anything")).isTrue());
    }

    @Test
    void wrongOrMissingKeyIsRefusedWithoutEchoingIt() {
        ClientAuthenticator auth = ClientAuthenticator.of(config(false, CLIENTS));
        assertThat(auth.authenticate("ck-wrong", true)).isInstanceOfSatisfying(AuthDecision.Refused.class,
                r -> assertThat(r.message()).doesNotContain("ck-wrong"));
        assertThat(auth.authenticate(null, true)).isInstanceOf(AuthDecision.Refused.class);
    }

    @Test
    void allowUnauthenticatedWithoutClientsLetsEveryoneIn() {
        assertThat(ClientAuthenticator.of(config(true, List.of())).authenticate(null, false))
                .isEqualTo(new AuthDecision.Admitted("anonymous", null));
    }

    @Test
    void protectedModeServesLoopbackOnlyAndSaysHowToConfigureClients() {
        ClientAuthenticator auth = ClientAuthenticator.of(config(false, List.of()));
        assertThat(auth.authenticate(null, true)).isEqualTo(new AuthDecision.Admitted("anonymous", null));
        assertThat(auth.authenticate("x", false)).isInstanceOfSatisfying(AuthDecision.Refused.class,
                r -> assertThat(r.message()).contains("clients").contains("allow_unauthenticated"));
    }
}
