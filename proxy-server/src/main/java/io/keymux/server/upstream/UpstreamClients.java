package io.keymux.server.upstream;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.netty.channel.ChannelOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * The one pooled upstream {@link HttpClient}, with a view per task that only differs in its connect
 * timeout. Every view shares the same connection provider and event loops, so connections are pooled
 * per upstream address (and per connect timeout value).
 */
public final class UpstreamClients implements AutoCloseable {
    private final ConnectionProvider provider;
    private final HttpClient base;
    private final Map<Duration, HttpClient> byConnectTimeout = new HashMap<>();

    /** Builds the pool for a configuration on the given event loops. */
    public UpstreamClients(KeymuxConfig config, LoopResources loops) {
        this.provider = ConnectionProvider.builder("keymux-upstream")
                .maxConnections(Math.max(16, config.server().maxConnections()))
                .pendingAcquireMaxCount(-1)
                .pendingAcquireTimeout(Duration.ofSeconds(60))
                // Below the usual upstream keep-alive (60s), so a pooled connection is not reused
                // just as the upstream closes it.
                .maxIdleTime(Duration.ofSeconds(50))
                .evictInBackground(Duration.ofSeconds(30))
                .build();
        this.base = HttpClient.create(provider).runOn(loops).keepAlive(true)
                .option(ChannelOption.TCP_NODELAY, true);
        for (TaskConfig task : config.tasks()) {
            byConnectTimeout.computeIfAbsent(task.timeouts().connect(), this::withConnectTimeout);
        }
    }

    private HttpClient withConnectTimeout(Duration connect) {
        return base.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connect.toMillis()));
    }

    /** The client for a task (its connect timeout applied). */
    public HttpClient forTask(TaskConfig task) {
        HttpClient client = byConnectTimeout.get(task.timeouts().connect());
        return client != null ? client : withConnectTimeout(task.timeouts().connect());
    }

    /** Closes pooled connections. */
    @Override
    public void close() {
        provider.disposeLater().block(Duration.ofSeconds(5));
    }
}
