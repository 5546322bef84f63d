package io.keymux.server.sharedstate;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Simulated keymux replicas for tests: each has its own Lettuce client, connection and
 * {@link SharedKeyState}, all under one random key prefix that {@link #close()} deletes.
 * Blocking Lettuce calls here run on the test thread only.
 */
final class Replicas implements AutoCloseable {
    final String prefix = "keymux-test-" + UUID.randomUUID().toString().substring(0, 8);
    private final RedisURI uri;
    private final List<RedisClient> clients = new ArrayList<>();
    private final List<RedisHealth> healths = new ArrayList<>();
    private final RedisClient inspectClient;
    private final StatefulRedisConnection<String, String> inspectConnection;

    Replicas(RedisURI uri) {
        this.uri = uri;
        LettuceTransport.preferEpoll();
        this.inspectClient = RedisClient.create(uri);
        this.inspectConnection = inspectClient.connect();
    }

    /** A new replica, connected (waits until its health is UP). */
    SharedKeyState start(String replicaId) {
        RedisHealth health = startHealth(uri);
        SharedKeyState state = SharedKeyState.create(health, prefix, replicaId, SharedKeyState.DEFAULT_LEASE_TTL);
        await(health);
        return state;
    }

    /**
     * A health tracker for {@code target}, not awaited, with a generous command timeout: these
     * tests are about shared state, not latency, on a busy machine.
     */
    RedisHealth startHealth(RedisURI target) {
        return startHealth(target, Duration.ofSeconds(2));
    }

    /** A health tracker for {@code target}, not awaited, with a fast backoff (20 ms to 200 ms). */
    RedisHealth startHealth(RedisURI target, Duration commandTimeout) {
        RedisClient client = RedisClient.create();
        clients.add(client);
        RedisHealth health = RedisHealth.connect(client, target, commandTimeout,
                Duration.ofMillis(20), Duration.ofMillis(200));
        healths.add(health);
        return health;
    }

    static void await(RedisHealth health) {
        await(health.whenUp());
    }

    /**
     * Waits on the test thread for at most 30 s. Not {@code orTimeout}: its timer is cancelled by
     * whichever thread completes the future, here a Lettuce event loop, where BlockHound turns a
     * contended lock in the JDK's shared delay scheduler into an error that wedges that scheduler.
     */
    static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        } catch (TimeoutException e) {
            throw new AssertionError("not completed within 30 s", e);
        }
    }

    /** Blocking commands to inspect Redis directly (PTTL, TYPE, ...). */
    RedisCommands<String, String> redis() {
        return inspectConnection.sync();
    }

    @Override
    public void close() {
        RedisCommands<String, String> redis = redis();
        ScanCursor cursor = ScanCursor.INITIAL;
        do {
            KeyScanCursor<String> page = redis.scan(cursor, ScanArgs.Builder.matches(prefix + ":*").limit(500));
            if (!page.getKeys().isEmpty()) {
                redis.del(page.getKeys().toArray(String[]::new));
            }
            cursor = page;
        } while (!cursor.isFinished());
        inspectConnection.close();
        inspectClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        healths.forEach(health -> await(health.closeAsync()));
        clients.forEach(client -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    }
}
