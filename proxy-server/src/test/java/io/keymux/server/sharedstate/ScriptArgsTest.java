package io.keymux.server.sharedstate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@link ScriptArgs}: the pairs a script reads by name, and a call that sends more or fewer than it declares. */
class ScriptArgsTest {

    @Test
    void argumentsGoOutAsNameValuePairsInTheOrderPut() {
        assertThat(new ScriptArgs(4).put("rpm", "600").put("tpm", "").put("tokens", 42L).flag("probe", true).toArray())
                .containsExactly("rpm", "600", "tpm", "", "tokens", "42", "probe", "1");
    }

    @Test
    void aCallThatSendsFewerOrMoreArgumentsThanItDeclaresFailsBeforeRedis() {
        assertThatThrownBy(() -> new ScriptArgs(2).put("rpm", "600").toArray())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("1 of the 2 declared");
        assertThatThrownBy(() -> new ScriptArgs(1).put("rpm", "600").put("tpm", "1"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("script argument tpm: more than the 1 declared");
    }
}
