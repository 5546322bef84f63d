package io.keymux.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;
import reactor.netty.resources.LoopResources;

/**
 * BlockHound is installed for every test of this module (blockhound-junit-platform on the test
 * classpath, the surefire argLine from the parent pom), so any blocking call the proxy makes on an
 * event loop during the integration tests fails them.
 */
class BlockHoundTest {

    @Test
    void blockingCallOnANettyEventLoopIsRefused() throws Exception {
        LoopResources loops = LoopResources.create("blockhound-probe", 1, true);
        try {
            CompletableFuture<Throwable> caught = new CompletableFuture<>();
            loops.onServer(LoopResources.hasNativeSupport()).next().execute(() -> {
                try {
                    Thread.sleep(1);
                    caught.complete(new AssertionError("Thread.sleep on an event loop was not detected"));
                } catch (Throwable t) {
                    caught.complete(t);
                }
            });
            assertThat(caught.get(10, TimeUnit.SECONDS)).isInstanceOf(BlockingOperationError.class);
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        }
    }
}
