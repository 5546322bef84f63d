package io.keymux.config.load;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.AdminConfig;
import io.keymux.config.model.Secret;
import java.util.List;

/** The {@code admin} block. */
final class AdminMapper extends SectionMapper {
    static final List<String> ADMIN_FIELDS = List.of("token");

    AdminMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    AdminConfig admin(ObjectNode root) {
        ObjectNode o = object(field(root, "admin"), "admin", ADMIN_FIELDS);
        if (o == null) {
            return new AdminConfig(null);
        }
        String token = secret(o, "token", "admin.token");
        // An empty token (${KEYMUX_ADMIN_TOKEN:-}) means "no admin API", like an absent one.
        return new AdminConfig(token == null || token.isEmpty() ? null : Secret.of(token));
    }
}
