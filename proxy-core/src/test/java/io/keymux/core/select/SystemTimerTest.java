package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The public factory with the real clock and its daemon timer thread. */
class SystemTimerTest {

    @Test
    void theDaemonTimerExpiresWaitersAndCloseStopsIt() throws Exception {
        KeyBroker broker = KeyBroker.create(
                TestConfigs.empty().task(task("t").maxWait(Duration.ofMillis(50)))
                        .key(key("k", "t").maxConcurrent(1)).build(),
                TimeSource.system());
        try {
            Lease held = (Lease) broker.acquire(new KeyRequest("t", "c", 1, Set.of())).join();
            CompletableFuture<Admission> waiter = broker.acquire(new KeyRequest("t", "c", 1, Set.of()));
            Admission expired = waiter.get(10, TimeUnit.SECONDS);
            assertThat(expired).isInstanceOf(Rejection.class);
            assertThat(((Rejection) expired).message()).contains("concurrency limits");
            held.settle(new Outcome.Answered(200, 1, 1, true, 1));
            assertThat(broker.acquire(new KeyRequest("t", "c", 1, Set.of())).join()).isInstanceOf(Lease.class);
        } finally {
            broker.close();
        }
        assertThat(Thread.getAllStackTraces().keySet())
                .noneMatch(t -> t.getName().equals("keymux-broker-timer") && t.isAlive() && !t.isDaemon());
    }
}
