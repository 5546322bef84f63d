package io.keymux.server.sharedstate;

import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * A TCP proxy in front of the shared Redis that a test can take away and bring back on the same
 * port, to play "Redis went down" without stopping the server other tests use.
 */
final class TcpForwarder implements AutoCloseable {
    private final InetSocketAddress target;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private @Nullable DisposableServer server;
    private int port;

    TcpForwarder(String targetHost, int targetPort) {
        this.target = new InetSocketAddress(targetHost, targetPort);
    }

    /** Listens on {@code port} (0: any free port) and forwards every connection to the target. */
    TcpForwarder start(int port) {
        server = TcpServer.create()
                .host("127.0.0.1")
                .port(port)
                .doOnConnection(this::track)
                .handle((in, out) -> TcpClient.newConnection()
                        .remoteAddress(() -> target)
                        .connect()
                        .flatMap(upstream -> {
                            track(upstream);
                            // Whichever side ends first ends both.
                            return Mono.firstWithSignal(
                                            upstream.outbound().send(in.receive().retain()).then(),
                                            out.send(upstream.inbound().receive().retain()).then())
                                    .doFinally(signal -> upstream.dispose());
                        }))
                .bindNow();
        this.port = server.port();
        return this;
    }

    /** The listening port (the same after a restart). */
    int port() {
        return port;
    }

    /** Stops listening and cuts every connection, as a Redis crash would. */
    void stop() {
        DisposableServer current = server;
        server = null;
        if (current != null) {
            current.disposeNow();
        }
        connections.forEach(Connection::dispose);
        connections.forEach(connection -> connection.onDispose().block());
    }

    @Override
    public void close() {
        stop();
    }

    private void track(Connection connection) {
        connections.add(connection);
        connection.onDispose(() -> connections.remove(connection));
    }
}
