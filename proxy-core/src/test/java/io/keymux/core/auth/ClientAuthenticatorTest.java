package io.keymux.core.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.ClientConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.Secret;
import io.keymux.config.model.ServerConfig;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ClientAuthenticatorTest {

    private static KeymuxConfig config(boolean allowUnauthenticated, List<ClientConfig> clients) {
        ServerConfig server = ServerConfig.builder().allowUnauthenticated(allowUnauthenticated).build();
        return KeymuxConfig.builder().server(server).clients(clients).build();
    }

    private static final List<ClientConfig> CLIENTS = List.of(
            ClientConfig.builder("plain").key(Secret.of("ck-plain")).allowedTasks(Set.of("chat")).build(),
            ClientConfig.builder("hashed").keySha256(ClientAuthenticator.sha256Hex("ck-hashed")).build());

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
