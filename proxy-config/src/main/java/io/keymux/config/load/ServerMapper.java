package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.ServerConfig;
import io.keymux.config.model.TlsConfig;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The {@code server} block, TLS files included. */
final class ServerMapper extends SectionMapper {
    static final List<String> SERVER_FIELDS = List.of(
            "port", "admin_port", "max_body_bytes", "task_header", "expose_key_id", "allow_unauthenticated",
            "drain_timeout", "bind", "max_header_bytes", "max_uri_bytes", "request_header_timeout", "idle_timeout",
            "max_connections", "tls", "admin_tls", "max_websocket_session");
    static final List<String> TLS_FIELDS = List.of("cert_file", "key_file");

    private final Path baseDir;

    /** @param baseDir what relative TLS file paths are resolved against: the config file's directory */
    ServerMapper(Diagnostics diag, Interpolator interpolator, Path baseDir) {
        super(diag, interpolator);
        this.baseDir = baseDir;
    }

    ServerConfig server(ObjectNode root) {
        ServerConfig d = ServerConfig.defaults();
        ObjectNode o = object(field(root, "server"), "server", SERVER_FIELDS);
        if (o == null) {
            return d;
        }
        int port = intOr(port(o, "port", "server.port"), d.port());
        int adminPort = intOr(port(o, "admin_port", "server.admin_port"), d.adminPort());
        if (port == adminPort && port != 0) {
            problem("server.admin_port", "must differ from server.port (got " + adminPort + ")");
        }
        return ServerConfig.builder()
                .port(port)
                .adminPort(adminPort)
                .maxBodyBytes(longOr(positiveLong(o, "max_body_bytes", "server.max_body_bytes"), d.maxBodyBytes()))
                .taskHeader(orElse(nonEmptyString(o, "task_header", "server.task_header"), d.taskHeader()))
                .exposeKeyId(boolOr(bool(o, "expose_key_id", "server.expose_key_id"), d.exposeKeyId()))
                .allowUnauthenticated(boolOr(bool(o, "allow_unauthenticated", "server.allow_unauthenticated"),
                        d.allowUnauthenticated()))
                .drainTimeout(orElse(duration(o, "drain_timeout", "server.drain_timeout", false), d.drainTimeout()))
                .bind(orElse(nonEmptyString(o, "bind", "server.bind"), d.bind()))
                .maxHeaderBytes(intOr(positiveInt(o, "max_header_bytes", "server.max_header_bytes"), d.maxHeaderBytes()))
                .maxUriBytes(intOr(positiveInt(o, "max_uri_bytes", "server.max_uri_bytes"), d.maxUriBytes()))
                .requestHeaderTimeout(orElse(duration(o, "request_header_timeout", "server.request_header_timeout", true),
                        d.requestHeaderTimeout()))
                .idleTimeout(orElse(duration(o, "idle_timeout", "server.idle_timeout", true), d.idleTimeout()))
                .maxConnections(intOr(positiveInt(o, "max_connections", "server.max_connections"), d.maxConnections()))
                .tls(tls(field(o, "tls"), "server.tls"))
                .adminTls(tls(field(o, "admin_tls"), "server.admin_tls"))
                .maxWebsocketSession(orElse(duration(o, "max_websocket_session", "server.max_websocket_session", true),
                        d.maxWebsocketSession()))
                .build();
    }

    @Nullable TlsConfig tls(@Nullable JsonNode node, String path) {
        ObjectNode o = object(node, path, TLS_FIELDS);
        if (o == null) {
            return null;
        }
        Path cert = file(o, "cert_file", path + ".cert_file");
        Path key = file(o, "key_file", path + ".key_file");
        return cert == null || key == null ? null : new TlsConfig(cert, key);
    }

    @Nullable Path file(ObjectNode o, String f, String path) {
        String name = required(o, f, path) ? nonEmptyString(o, f, path) : null;
        if (name == null) {
            return null;
        }
        try {
            Path p = baseDir.resolve(name).normalize();
            if (!Files.isRegularFile(p)) {
                problem(path, "file not found (got " + got(o.get(f)) + ", resolved against " + baseDir + ")");
            }
            return p;
        } catch (InvalidPathException e) {
            problem(path, "must be a file path (got " + got(o.get(f)) + ")");
            return null;
        }
    }
}
