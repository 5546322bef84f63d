package io.keymux.server.reload;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.Secret;
import org.junit.jupiter.api.Test;

/** The {@code /admin/*} token check: 403 without a configured token, 401 unless the Bearer token matches. */
class AdminTokenTest {
    private static final Secret TOKEN = Secret.of("adm-0123456789");

    @Test
    void onlyTheConfiguredBearerTokenIsAllowed() {
        assertThat(AdminToken.check("Bearer adm-0123456789", TOKEN)).isEqualTo(AdminToken.ALLOWED);
        assertThat(AdminToken.check("bearer  adm-0123456789 ", TOKEN)).isEqualTo(AdminToken.ALLOWED);
        assertThat(AdminToken.check("Bearer adm-012345678", TOKEN)).isEqualTo(AdminToken.UNAUTHORIZED);
        assertThat(AdminToken.check("Bearer adm-01234567890", TOKEN)).isEqualTo(AdminToken.UNAUTHORIZED);
        assertThat(AdminToken.check("Basic adm-0123456789", TOKEN)).isEqualTo(AdminToken.UNAUTHORIZED);
        assertThat(AdminToken.check(null, TOKEN)).isEqualTo(AdminToken.UNAUTHORIZED);
    }

    @Test
    void withoutAConfiguredTokenAdminIsOff() {
        assertThat(AdminToken.check("Bearer anything", null)).isEqualTo(AdminToken.NOT_CONFIGURED);
        assertThat(AdminToken.check("Bearer ", Secret.of(""))).isEqualTo(AdminToken.NOT_CONFIGURED);
    }
}
