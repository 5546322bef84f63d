package io.keymux.server.upstream;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * The pooled upstream {@link HttpClient}s: one connection pool per event loop, so an exchange that
 * runs on a loop gets an upstream connection that lives on the same loop (nginx's and Envoy's worker
 * model, Zuul 2's and Armeria's per-loop pools), and never changes threads between the client's
 * socket and the upstream's. Each loop's client has a view per task that only differs in its connect
 * timeout.
 *
 * <pre>{@code
 * HttpClient client = upstreams.forTask(task, channel.eventLoop());
 * }</pre>
 */
public final class UpstreamClients implements AutoCloseable {
    private final List<ConnectionProvider> providers = new ArrayList<>();
    private final Map<EventLoop, LoopClients> byLoop = new IdentityHashMap<>();
    private final LoopClients fallback;

    /** Builds one pool per event loop of {@code loops}' server group. */
    public UpstreamClients(KeymuxConfig config, LoopResources loops) {
        Objects.requireNonNull(config, "config");
        EventLoopGroup group = loops.onServer(LoopResources.hasNativeSupport());
        LoopClients first = null;
        int index = 0;
        for (EventExecutor executor : group) {
            EventLoop loop = (EventLoop) executor;
            ConnectionProvider provider = ConnectionProvider.builder("keymux-upstream-" + index++)
                    .maxConnections(Math.max(16, config.server().maxConnections()))
                    .pendingAcquireMaxCount(-1)
                    .pendingAcquireTimeout(Duration.ofSeconds(60))
                    // Below the usual upstream keep-alive (60s), so a pooled connection is not reused
                    // just as the upstream closes it.
                    .maxIdleTime(Duration.ofSeconds(50))
                    .evictInBackground(Duration.ofSeconds(30))
                    .build();
            providers.add(provider);
            HttpClient base = HttpClient.create(provider).runOn(loop).keepAlive(true)
                    .option(ChannelOption.TCP_NODELAY, true);
            LoopClients clients = new LoopClients(base, config);
            byLoop.put(loop, clients);
            if (first == null) {
                first = clients;
            }
        }
        this.fallback = Objects.requireNonNull(first, "the event loop group has no loop");
    }

    /**
     * The client for a task (its connect timeout applied) whose connections live on {@code loop}. A
     * loop that is not one of this pool's (a test's own thread) gets the first loop's client.
     */
    public HttpClient forTask(TaskConfig task, EventLoop loop) {
        LoopClients clients = byLoop.get(loop);
        return (clients != null ? clients : fallback).forTask(task);
    }

    /** Closes pooled connections. */
    @Override
    public void close() {
        Mono.when(providers.stream().map(ConnectionProvider::disposeLater).toList()).block(Duration.ofSeconds(5));
    }

    /** One loop's client and its per-connect-timeout views, built once. */
    private static final class LoopClients {
        private final HttpClient base;
        private final Map<Duration, HttpClient> byConnectTimeout = new HashMap<>();

        LoopClients(HttpClient base, KeymuxConfig config) {
            this.base = base;
            for (TaskConfig task : config.tasks()) {
                byConnectTimeout.computeIfAbsent(task.timeouts().connect(), this::withConnectTimeout);
            }
        }

        private HttpClient withConnectTimeout(Duration connect) {
            return base.option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                    (int) Math.min(Integer.MAX_VALUE, connect.toMillis()));
        }

        HttpClient forTask(TaskConfig task) {
            HttpClient client = byConnectTimeout.get(task.timeouts().connect());
            return client != null ? client : withConnectTimeout(task.timeouts().connect());
        }
    }
}
