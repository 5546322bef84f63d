package io.keymux.server.sharedstate;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisBusyException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisLoadingException;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.netty.util.concurrent.EventExecutorGroup;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the one Redis connection of a replica and knows whether Redis answers.
 *
 * <p>Every command has a timeout ({@code limits.redis.timeout}, 500 ms by default). Slow is not
 * down: a timed-out command only counts, and Redis turns DOWN (one WARN) when the connection is
 * lost or {@code failure_threshold} calls in a row timed out. "In a row" means one after the
 * other: calls sent together before the first of them timed out count once, so one stall of
 * Redis under a burst is one failure, not hundreds. An error reply is an answer (Redis is up):
 * the caller logs it as the bug it is. While DOWN, {@link #connection()} is {@code null} so callers answer "unavailable" without touching
 * the network, and a fresh connection followed by a {@code PING} is tried with exponential
 * backoff (100 ms doubling to 5 s by default). The first {@code PING} answered turns the state UP
 * and logs one INFO. Listeners hear each transition, on a Lettuce thread: they must not block.
 *
 * <p>Lettuce's own reconnect is switched off (so the backoff and the state are this class's)
 * and commands are refused, not queued, while disconnected. It starts DOWN and connects at
 * once without blocking:
 *
 * <pre>{@code
 * RedisHealth health = RedisHealth.connect(RedisClient.create(), RedisURI.create(config.redis().uri()));
 * metrics.redisUp(health::up);
 * SharedKeyState shared = SharedKeyState.create(health);
 * }</pre>
 *
 * Logs name Redis by host and port only, never by its URI (which may hold a password).
 */
public final class RedisHealth implements AutoCloseable {
    /** The per-command timeout unless one is given. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofMillis(500);
    /** Calls in a row that time out before Redis counts as down, unless another number is given. */
    public static final int DEFAULT_FAILURE_THRESHOLD = 3;
    /** The first reconnect delay unless one is given. */
    public static final Duration DEFAULT_MIN_BACKOFF = Duration.ofMillis(100);
    /** The longest reconnect delay unless one is given. */
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(5);

    private static final Logger LOG = LoggerFactory.getLogger(RedisHealth.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);

    private final RedisClient client;
    private final RedisURI uri;
    private final String where;
    private final long minBackoffMillis;
    private final long maxBackoffMillis;
    private final int failureThreshold;
    private final Duration commandTimeout;
    /** Guarded by this: timeouts in a row, and when the last one was counted. */
    private int timeoutsInARow;
    private long lastTimeoutCounted;
    private volatile LongConsumer latencies = nanos -> {};
    private final EventExecutorGroup scheduler;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final AtomicReference<@Nullable StatefulRedisConnection<String, String>> connection =
            new AtomicReference<>();
    /** Set while a reconnect loop runs, so concurrent failures start only one. */
    private final AtomicBoolean reconnecting = new AtomicBoolean();
    /** Whether the DOWN state has been logged since the last UP (the first failure logs). */
    private final AtomicBoolean downLogged = new AtomicBoolean();
    private volatile boolean everUp;
    private volatile boolean closed;
    private volatile CompletableFuture<Void> nextUp = new CompletableFuture<>();
    /**
     * UP as the listeners know it: set once they have been told, before {@link #nextUp} is swapped,
     * so {@link #whenUp()} never completes before the listeners ran (a {@code /readyz} that still
     * said "degraded" after it) and never waits for the next UP while this one is on.
     */
    private volatile boolean announcedUp;

    private RedisHealth(RedisClient client, RedisURI uri, Duration commandTimeout, Duration minBackoff,
            Duration maxBackoff, int failureThreshold) {
        this.failureThreshold = failureThreshold;
        this.commandTimeout = commandTimeout;
        this.client = client;
        this.uri = uri;
        this.where = uri.getHost() != null ? uri.getHost() + ":" + uri.getPort() : "redis";
        this.minBackoffMillis = Math.max(1, minBackoff.toMillis());
        this.maxBackoffMillis = Math.max(minBackoffMillis, maxBackoff.toMillis());
        this.scheduler = client.getResources().eventExecutorGroup();
        client.setOptions(ClientOptions.builder()
                .autoReconnect(false)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
                .socketOptions(SocketOptions.builder().connectTimeout(CONNECT_TIMEOUT).build())
                .build());
        // A dropped connection turns DOWN at once, not only when the next command fails, so
        // /readyz and keymux_redis_up tell the truth on an idle replica too.
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
                StatefulRedisConnection<String, String> current = connection.get();
                if (current == handler) {
                    lost(current, new RedisConnectionException("connection closed by " + where));
                }
            }
        });
    }

    /** {@link #connect(RedisClient, RedisURI, Duration, Duration, Duration)} with the defaults. */
    public static RedisHealth connect(RedisClient client, RedisURI uri) {
        return connect(client, uri, DEFAULT_COMMAND_TIMEOUT, DEFAULT_MIN_BACKOFF, DEFAULT_MAX_BACKOFF);
    }

    /**
     * Starts connecting to {@code uri} in the background and returns at once (DOWN until the
     * first {@code PING} answers). Sets {@code client}'s options: give it a client of its own.
     */
    public static RedisHealth connect(RedisClient client, RedisURI uri, Duration commandTimeout, Duration minBackoff,
            Duration maxBackoff) {
        return connect(client, uri, commandTimeout, minBackoff, maxBackoff, DEFAULT_FAILURE_THRESHOLD);
    }

    /**
     * Starts connecting to {@code uri} in the background and returns at once (DOWN until the
     * first {@code PING} answers); DOWN again after {@code failureThreshold} timeouts in a row or a
     * lost connection. Sets {@code client}'s options: give it a client of its own.
     */
    public static RedisHealth connect(RedisClient client, RedisURI uri, Duration commandTimeout, Duration minBackoff,
            Duration maxBackoff, int failureThreshold) {
        if (failureThreshold <= 0) {
            throw new IllegalArgumentException("failureThreshold: " + failureThreshold + " (expected: > 0)");
        }
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(uri, "uri");
        if (commandTimeout.isNegative() || commandTimeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout: " + commandTimeout + " (expected: > 0)");
        }
        RedisHealth health = new RedisHealth(client, uri, commandTimeout, minBackoff, maxBackoff, failureThreshold);
        health.reconnecting.set(true);
        health.attempt(0);
        return health;
    }

    /** The timeout of every command. */
    public Duration commandTimeout() {
        return commandTimeout;
    }

    /** Whether Redis answered the last command (or the last reconnect {@code PING}). */
    public boolean up() {
        return connection.get() != null;
    }

    /** Completes when Redis is next UP (at once when it is UP now). */
    public CompletableFuture<Void> whenUp() {
        CompletableFuture<Void> next = nextUp;
        return announcedUp && up() ? CompletableFuture.completedFuture(null) : next.copy();
    }

    /** Adds a listener told of every UP/DOWN transition, on a Lettuce thread; it must not block. */
    public void addListener(Listener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Stops reconnecting and closes the connection without waiting. Does not shut the client down. */
    @Override
    public void close() {
        closeAsync();
    }

    /** Stops reconnecting and closes the connection; completes when it is closed. */
    public CompletableFuture<Void> closeAsync() {
        closed = true;
        StatefulRedisConnection<String, String> current = connection.getAndSet(null);
        return current == null ? CompletableFuture.completedFuture(null) : current.closeAsync();
    }

    /** The connection while UP, else {@code null}. */
    @Nullable StatefulRedisConnection<String, String> connection() {
        return connection.get();
    }

    /**
     * Sends one command on the shared connection for a caller outside this package (the object
     * map of SPEC.md section 8): {@code unavailable} at once while Redis is down, {@code slow} when
     * it does not answer within the command timeout or answers with an error. Timeouts and lost
     * connections count towards DOWN as for every other command. Never completes exceptionally.
     */
    public <T> CompletableFuture<T> send(Function<RedisAsyncCommands<String, String>, ? extends CompletionStage<T>> command,
            T unavailable, T slow) {
        StatefulRedisConnection<String, String> c = connection.get();
        if (c == null) {
            return CompletableFuture.completedFuture(unavailable);
        }
        long issued = System.nanoTime();
        CompletionStage<T> sent;
        try {
            sent = command.apply(c.async());
        } catch (RuntimeException refused) {
            return CompletableFuture.completedFuture(unavailable);
        }
        return sent.toCompletableFuture().handle((value, error) -> {
            if (error == null) {
                commandSucceeded(System.nanoTime() - issued);
                return value;
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            return switch (commandFailed(c, cause, issued)) {
                case TIMEOUT, REPLY -> slow;
                case CONNECTION -> unavailable;
            };
        });
    }

    /** How a command failed. */
    enum Failure {
        /** No answer in time (or Redis busy or loading): slow, counted towards down. */
        TIMEOUT,
        /** The connection was lost or refused: down at once. */
        CONNECTION,
        /** Redis answered with an error: up, and a bug to log. */
        REPLY
    }

    /** Where each answered command's round-trip time goes (for {@code keymux_redis_latency_seconds}). */
    public void onLatency(LongConsumer nanos) {
        latencies = Objects.requireNonNull(nanos, "nanos");
    }

    /** A command answered after {@code latencyNanos}: the timeouts in a row start again. */
    void commandSucceeded(long latencyNanos) {
        synchronized (this) {
            timeoutsInARow = 0;
        }
        latencies.accept(latencyNanos);
    }

    /**
     * A command on {@code failed}, sent at {@code issuedNanos} ({@link System#nanoTime()}), failed
     * with {@code cause}; returns how. A lost connection turns DOWN at once; a timeout counts when
     * the command was sent after the last counted one was noticed, and at {@code failure_threshold}
     * in a row turns DOWN; an error reply changes nothing here.
     */
    Failure commandFailed(StatefulRedisConnection<String, String> failed, Throwable cause, long issuedNanos) {
        Failure failure = classify(cause);
        if (failure == Failure.REPLY) {
            return failure;
        }
        if (failure == Failure.TIMEOUT) {
            synchronized (this) {
                long now = System.nanoTime();
                if (timeoutsInARow == 0 || issuedNanos - lastTimeoutCounted > 0) {
                    timeoutsInARow++;
                    lastTimeoutCounted = now;
                }
                if (timeoutsInARow < failureThreshold) {
                    return failure;
                }
                timeoutsInARow = 0;
            }
        }
        lost(failed, cause);
        return failure;
    }

    static Failure classify(Throwable cause) {
        Throwable root = cause;
        while ((root instanceof CompletionException || root instanceof ExecutionException) && root.getCause() != null) {
            root = root.getCause();
        }
        if (root instanceof RedisCommandTimeoutException || root instanceof RedisBusyException
                || root instanceof RedisLoadingException) {
            return Failure.TIMEOUT;
        }
        if (root instanceof RedisCommandExecutionException) {
            return Failure.REPLY;
        }
        return Failure.CONNECTION;
    }

    /**
     * {@code failed} is gone: DOWN, log once, reconnect with backoff. A failure on a connection
     * already replaced (a late timeout) is ignored.
     */
    private void lost(StatefulRedisConnection<String, String> failed, Throwable cause) {
        if (!connection.compareAndSet(failed, null)) {
            return;
        }
        failed.closeAsync();
        wentDown(cause);
        if (reconnecting.compareAndSet(false, true)) {
            attempt(minBackoffMillis);
        }
    }

    private void attempt(long delayMillis) {
        if (closed) {
            reconnecting.set(false);
            return;
        }
        if (delayMillis == 0) {
            tryConnect(minBackoffMillis);
        } else {
            try {
                scheduler.schedule(() -> tryConnect(Math.min(maxBackoffMillis, delayMillis * 2)), delayMillis,
                        TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException shuttingDown) {
                // The client's resources are shutting down: there is nothing left to reconnect with.
                reconnecting.set(false);
            }
        }
    }

    private void tryConnect(long nextDelayMillis) {
        AtomicReference<@Nullable StatefulRedisConnection<String, String>> opened = new AtomicReference<>();
        client.connectAsync(StringCodec.UTF8, uri).toCompletableFuture()
                .thenCompose(c -> {
                    opened.set(c);
                    return c.async().ping().toCompletableFuture();
                })
                .whenComplete((pong, error) -> {
                    StatefulRedisConnection<String, String> c = opened.get();
                    if (error == null && c != null && !closed) {
                        synchronized (this) {
                            timeoutsInARow = 0;
                        }
                        connection.set(c);
                        reconnecting.set(false);
                        wentUp();
                        return;
                    }
                    if (c != null) {
                        c.closeAsync();
                    }
                    if (error != null) {
                        wentDown(error);
                    }
                    attempt(nextDelayMillis);
                });
    }

    private void wentDown(Throwable cause) {
        announcedUp = false;
        if (downLogged.compareAndSet(false, true)) {
            LOG.warn("Redis at {} is unreachable ({}); using local limits until it answers", where,
                    describe(cause));
            if (everUp) {
                notifyListeners(false);
            }
        }
    }

    private void wentUp() {
        boolean wasDown = downLogged.getAndSet(false);
        if (wasDown) {
            LOG.info("Redis at {} is reachable again; limits are shared across replicas again", where);
        } else if (!everUp) {
            LOG.info("Redis at {} is reachable; limits are shared across replicas", where);
        }
        everUp = true;
        // Listeners first, so whoever waits on whenUp() sees them already told.
        notifyListeners(true);
        announcedUp = true;
        CompletableFuture<Void> done = nextUp;
        nextUp = new CompletableFuture<>();
        done.complete(null);
    }

    private void notifyListeners(boolean up) {
        for (Listener listener : listeners) {
            listener.onChange(up);
        }
    }

    private static String describe(Throwable cause) {
        Throwable root = cause;
        while ((root instanceof CompletionException || root instanceof ExecutionException) && root.getCause() != null) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }

    /** Hears Redis go DOWN ({@code false}) and come back UP ({@code true}). */
    @FunctionalInterface
    public interface Listener {
        /** Called once per transition; must not block. */
        void onChange(boolean up);
    }
}
