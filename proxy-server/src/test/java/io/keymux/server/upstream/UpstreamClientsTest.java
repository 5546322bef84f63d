package io.keymux.server.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.server.testing.TestConfig;
import io.keymux.server.testing.UpstreamStub;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

/** Each event loop has its own upstream pool, whose connections live on that loop. */
class UpstreamClientsTest {

    @Test
    void eachLoopsClientOpensItsUpstreamConnectionsOnThatLoop() {
        LoopResources loops = LoopResources.create("upstream-clients-test", 3, true);
        try (UpstreamStub stub = new UpstreamStub()) {
            KeymuxConfig config = TestConfig.upstream(stub.baseUrl()).build();
            TaskConfig task = config.tasks().get(0);
            try (UpstreamClients clients = new UpstreamClients(config, loops)) {
                EventLoopGroup group = loops.onServer(LoopResources.hasNativeSupport());
                List<EventLoop> all = new ArrayList<>();
                for (EventExecutor executor : group) {
                    all.add((EventLoop) executor);
                }
                assertThat(all).hasSize(3);
                for (EventLoop loop : all) {
                    for (int i = 0; i < 2; i++) {
                        Seen seen = clients.forTask(task, loop).get().uri(stub.baseUrl() + "/v1/models")
                                .responseConnection((response, connection) -> connection.inbound().receive().then(Mono.just(
                                        new Seen(connection.channel().eventLoop(), connection.channel().id().asLongText()))))
                                .next().block(Duration.ofSeconds(10));
                        assertThat(seen).isNotNull();
                        assertThat(seen.loop()).isSameAs(loop);
                    }
                }
            }
        } finally {
            loops.disposeLater().block(Duration.ofSeconds(5));
        }
    }

    private record Seen(EventLoop loop, String channel) {}
}
