package io.keymux.config.model;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The {@code server} block: listening ports and request limits.
 *
 * @param tls TLS for the proxy port, or {@code null} for plain HTTP
 * @param adminTls TLS for the admin port, or {@code null} for plain HTTP
 * @param maxWebsocketSession how long a proxied WebSocket session may last before keymux closes it
 *     with 1001 (SPEC.md section 3.10)
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
        @Nullable TlsConfig adminTls,
        Duration maxWebsocketSession) {

    public static final int DEFAULT_PORT = 8080;
    public static final int DEFAULT_ADMIN_PORT = 9090;
    public static final long DEFAULT_MAX_BODY_BYTES = 10L * 1024 * 1024;
    public static final String DEFAULT_TASK_HEADER = "X-Task-Type";

    /** The defaults of SPEC.md section 2. */
    public static ServerConfig defaults() {
        return builder().build();
    }

    /** A builder with every setting at its default. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these settings, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.port = port;
        b.adminPort = adminPort;
        b.maxBodyBytes = maxBodyBytes;
        b.taskHeader = taskHeader;
        b.exposeKeyId = exposeKeyId;
        b.allowUnauthenticated = allowUnauthenticated;
        b.drainTimeout = drainTimeout;
        b.bind = bind;
        b.maxHeaderBytes = maxHeaderBytes;
        b.maxUriBytes = maxUriBytes;
        b.requestHeaderTimeout = requestHeaderTimeout;
        b.idleTimeout = idleTimeout;
        b.maxConnections = maxConnections;
        b.tls = tls;
        b.adminTls = adminTls;
        b.maxWebsocketSession = maxWebsocketSession;
        return b;
    }

    /** Builds a {@link ServerConfig} by name; the defaults are those of SPEC.md section 2. */
    public static final class Builder {
        private int port = DEFAULT_PORT;
        private int adminPort = DEFAULT_ADMIN_PORT;
        private long maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
        private String taskHeader = DEFAULT_TASK_HEADER;
        private boolean exposeKeyId = true;
        private boolean allowUnauthenticated = false;
        private Duration drainTimeout = Duration.ofSeconds(30);
        private String bind = "0.0.0.0";
        private int maxHeaderBytes = 65536;
        private int maxUriBytes = 16384;
        private Duration requestHeaderTimeout = Duration.ofSeconds(30);
        private Duration idleTimeout = Duration.ofSeconds(60);
        private int maxConnections = 10_000;
        private @Nullable TlsConfig tls;
        private @Nullable TlsConfig adminTls;
        private Duration maxWebsocketSession = Duration.ofMinutes(60);

        private Builder() {}

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder adminPort(int adminPort) {
            this.adminPort = adminPort;
            return this;
        }

        public Builder maxBodyBytes(long maxBodyBytes) {
            this.maxBodyBytes = maxBodyBytes;
            return this;
        }

        public Builder taskHeader(String taskHeader) {
            this.taskHeader = taskHeader;
            return this;
        }

        public Builder exposeKeyId(boolean exposeKeyId) {
            this.exposeKeyId = exposeKeyId;
            return this;
        }

        public Builder allowUnauthenticated(boolean allowUnauthenticated) {
            this.allowUnauthenticated = allowUnauthenticated;
            return this;
        }

        public Builder drainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
            return this;
        }

        public Builder bind(String bind) {
            this.bind = bind;
            return this;
        }

        public Builder maxHeaderBytes(int maxHeaderBytes) {
            this.maxHeaderBytes = maxHeaderBytes;
            return this;
        }

        public Builder maxUriBytes(int maxUriBytes) {
            this.maxUriBytes = maxUriBytes;
            return this;
        }

        public Builder requestHeaderTimeout(Duration requestHeaderTimeout) {
            this.requestHeaderTimeout = requestHeaderTimeout;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        public Builder maxConnections(int maxConnections) {
            this.maxConnections = maxConnections;
            return this;
        }

        public Builder tls(@Nullable TlsConfig tls) {
            this.tls = tls;
            return this;
        }

        public Builder adminTls(@Nullable TlsConfig adminTls) {
            this.adminTls = adminTls;
            return this;
        }

        public Builder maxWebsocketSession(Duration maxWebsocketSession) {
            this.maxWebsocketSession = maxWebsocketSession;
            return this;
        }

        public ServerConfig build() {
            return new ServerConfig(port, adminPort, maxBodyBytes, taskHeader, exposeKeyId, allowUnauthenticated, drainTimeout, bind, maxHeaderBytes, maxUriBytes, requestHeaderTimeout, idleTimeout, maxConnections, tls, adminTls, maxWebsocketSession);
        }
    }
}
