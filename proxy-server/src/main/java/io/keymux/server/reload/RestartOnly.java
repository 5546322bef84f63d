package io.keymux.server.reload;

import io.keymux.config.model.ServerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * The {@code server} settings a running listener was built with and cannot change: the sockets
 * (bind address, ports, TLS) and the connection-level limits of the request decoder and guard. A
 * reload that changes them is still applied for everything else (keys, tasks, clients, upstreams,
 * per-request limits such as {@code max_body_bytes}), and these fields are named in a warning and in
 * the reload summary as needing a restart. Refusing the whole reload instead would leave a rotated
 * key unused just because a port also changed.
 */
public final class RestartOnly {

    private record Field(String path, Function<ServerConfig, Object> value) {}

    private static final List<Field> FIELDS = List.of(
            new Field("server.bind", ServerConfig::bind),
            new Field("server.port", ServerConfig::port),
            new Field("server.admin_port", ServerConfig::adminPort),
            new Field("server.tls", s -> String.valueOf(s.tls())),
            new Field("server.admin_tls", s -> String.valueOf(s.adminTls())),
            new Field("server.max_header_bytes", ServerConfig::maxHeaderBytes),
            new Field("server.max_uri_bytes", ServerConfig::maxUriBytes),
            new Field("server.request_header_timeout", ServerConfig::requestHeaderTimeout),
            new Field("server.idle_timeout", ServerConfig::idleTimeout),
            new Field("server.max_connections", ServerConfig::maxConnections));

    private RestartOnly() {}

    /** The paths of the restart-only settings that differ between two configurations, in a fixed order. */
    public static List<String> changed(ServerConfig running, ServerConfig next) {
        List<String> changed = new ArrayList<>();
        for (Field f : FIELDS) {
            if (!Objects.equals(f.value().apply(running), f.value().apply(next))) {
                changed.add(f.path());
            }
        }
        return changed;
    }
}
