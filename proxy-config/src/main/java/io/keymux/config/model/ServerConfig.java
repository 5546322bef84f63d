package io.keymux.config.model;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The {@code server} block: listening ports and request limits.
 *
 * @param tls TLS for the proxy port, or {@code null} for plain HTTP
 * @param adminTls TLS for the admin port, or {@code null} for plain HTTP
 */
public record ServerConfig(
        int port,
        int adminPort,
        long maxBodyBytes,
        String taskHeader,
        boolean exposeKeyId,
        boolean allowUnauthenticated,
        Duration drainTimeout,
        String bind,
        int maxHeaderBytes,
        int maxUriBytes,
        Duration requestHeaderTimeout,
        Duration idleTimeout,
        int maxConnections,
        @Nullable TlsConfig tls,
        @Nullable TlsConfig adminTls) {

    public static final int DEFAULT_PORT = 8080;
    public static final int DEFAULT_ADMIN_PORT = 9090;
    public static final long DEFAULT_MAX_BODY_BYTES = 10L * 1024 * 1024;
    public static final String DEFAULT_TASK_HEADER = "X-Task-Type";

    /** The defaults of SPEC.md section 2. */
    public static ServerConfig defaults() {
        return new ServerConfig(
                DEFAULT_PORT,
                DEFAULT_ADMIN_PORT,
                DEFAULT_MAX_BODY_BYTES,
                DEFAULT_TASK_HEADER,
                true,
                false,
                Duration.ofSeconds(30),
                "0.0.0.0",
                65536,
                16384,
                Duration.ofSeconds(30),
                Duration.ofSeconds(60),
                10_000,
                null,
                null);
    }
}
