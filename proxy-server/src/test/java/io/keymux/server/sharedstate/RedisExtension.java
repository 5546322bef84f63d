package io.keymux.server.sharedstate;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.redis.testcontainers.RedisContainer;
import io.lettuce.core.RedisURI;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.ContainerFetchException;
import org.testcontainers.utility.DockerImageName;

/**
 * Gives tests a real Redis as a {@link RedisURI} parameter: a Testcontainers Redis when a Docker
 * engine is available and can get the {@code redis:7} image, else the server on {@code 127.0.0.1:6379}. Says once, on stderr, which
 * one it uses. When neither answers the test FAILS (it never skips: a Redis test that did not
 * run must not look green).
 *
 * <p>Tests share that Redis with others: each namespaces its keys with a random prefix and
 * deletes them afterwards.
 */
public final class RedisExtension implements ParameterResolver {
    private static final String LOCAL_HOST = "127.0.0.1";
    private static final int LOCAL_PORT = 6379;
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(RedisExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == RedisURI.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        // One Redis per test run, kept in the root store so it outlives every test class.
        return context.getRoot().getStore(NAMESPACE).getOrComputeIfAbsent("redis", key -> start(), RunningRedis.class).uri();
    }

    private static RunningRedis start() {
        quietLibraries();
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException noDocker) {
            // Testcontainers reports some missing-engine cases by throwing rather than answering false.
            docker = false;
        }
        if (docker) {
            RedisContainer container = new RedisContainer(DockerImageName.parse("redis:7"));
            try {
                container.start();
                System.err.println("[RedisExtension] using Testcontainers Redis at " + container.getRedisURI());
                return new RunningRedis(RedisURI.create(container.getRedisURI()), container);
            } catch (ContainerFetchException noImage) {
                // An engine without a registry (podman on the project's machines, for keymux's image
                // tests): redis:7 cannot be pulled, so the local server below serves instead.
                System.err.println("[RedisExtension] the container engine cannot get redis:7 (" + noImage.getMessage()
                        + "); trying the Redis server at " + LOCAL_HOST + ":" + LOCAL_PORT);
            }
        }
        String problem = ping(LOCAL_HOST, LOCAL_PORT);
        if (problem != null) {
            throw new ParameterResolutionException("No Redis for this test: no Docker engine for Testcontainers, and "
                    + LOCAL_HOST + ":" + LOCAL_PORT + " did not answer PING (" + problem + "). Start one with "
                    + "`redis-server` or run a Docker engine.");
        }
        System.err.println("[RedisExtension] " + (docker ? "" : "no Docker engine; ") + "using the Redis server at "
                + LOCAL_HOST + ":" + LOCAL_PORT);
        return new RunningRedis(RedisURI.create(LOCAL_HOST, LOCAL_PORT), null);
    }

    /**
     * Without a Logback configuration every Lettuce command is logged at DEBUG, which slows the
     * Redis round trips under test by an order of magnitude; keep the libraries at INFO.
     */
    private static void quietLibraries() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            for (String name : new String[] {"io.lettuce", "io.netty", "reactor", "org.testcontainers", "com.github.dockerjava"}) {
                context.getLogger(name).setLevel(Level.INFO);
            }
        }
    }

    /** Sends an inline PING; returns {@code null} on {@code +PONG}, else what went wrong. */
    private static @Nullable String ping(String host, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 1000);
            socket.setSoTimeout(1000);
            OutputStream out = socket.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] answer = new byte[7];
            int read = in.readNBytes(answer, 0, answer.length);
            String text = new String(answer, 0, read, StandardCharsets.US_ASCII);
            return text.equals("+PONG\r\n") ? null : "answered " + text.strip();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private record RunningRedis(RedisURI uri, @Nullable RedisContainer container) implements AutoCloseable {
        @Override
        public void close() {
            if (container != null) {
                container.stop();
            }
        }
    }
}
