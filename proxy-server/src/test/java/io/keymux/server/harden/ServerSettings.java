package io.keymux.server.harden;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TlsConfig;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/** Copies a test configuration with other listener settings (the record is frozen, so by hand). */
public final class ServerSettings {
    private ServerSettings() {}

    /** The configuration with a header/body read timeout and a connection cap. */
    public static KeymuxConfig limits(KeymuxConfig c, Duration requestHeaderTimeout, int maxConnections) {
        ServerConfig s = c.server();
        return with(c, s.toBuilder().requestHeaderTimeout(requestHeaderTimeout).maxConnections(maxConnections).build());
    }

    /** The configuration with TLS on the proxy and admin ports. */
    public static KeymuxConfig tls(KeymuxConfig c, @Nullable TlsConfig proxy, @Nullable TlsConfig admin) {
        ServerConfig s = c.server();
        return with(c, s.toBuilder().tls(proxy).adminTls(admin).build());
    }

    private static KeymuxConfig with(KeymuxConfig c, ServerConfig server) {
        return c.toBuilder().server(server).build();
    }
}
