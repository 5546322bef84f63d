package io.keymux.core.select;

import static io.keymux.core.select.BrokerFixture.key;
import static io.keymux.core.select.BrokerFixture.task;
import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.testing.TestConfigs;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Many threads against one key never get more leases than its limits allow. */
class ConcurrentAcquireTest {

    @Test
    void atMostMaxRpmLeasesWithinOneRefillWindow() throws InterruptedException {
        int rpm = 50;
        int threads = 8;
        int perThread = 100;
        try (BrokerFixture f = new BrokerFixture(TestConfigs.empty().task(task("t"))
                .key(key("k", "t").maxRpm((long) rpm).maxTpm(100_000L)).build())) {
            ConcurrentLinkedQueue<Lease> leases = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Rejection> rejections = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(threads);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread worker = new Thread(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < perThread; i++) {
                            Admission a = f.broker.acquire(new KeyRequest("t", "c", 10, Set.of())).join();
                            if (a instanceof Lease l) {
                                leases.add(l);
                            } else {
                                rejections.add((Rejection) a);
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        done.countDown();
                    }
                });
                workers.add(worker);
                worker.start();
            }
            start.countDown();
            assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();

            assertThat(leases).hasSize(rpm);
            assertThat(rejections).hasSize(threads * perThread - rpm);
            KeyStatus s = f.status("k");
            assertThat(s.usage().inFlight()).isEqualTo(rpm);
            assertThat(s.usage().rpm()).isEqualTo(rpm);

            // Settle every lease from several threads at once, twice: nothing lost, nothing double-counted.
            CountDownLatch settled = new CountDownLatch(2);
            for (int t = 0; t < 2; t++) {
                new Thread(() -> {
                    for (Lease l : leases) {
                        l.settle(new Outcome.Answered(200, 4, 6, true, 1));
                    }
                    settled.countDown();
                }).start();
            }
            assertThat(settled.await(30, TimeUnit.SECONDS)).isTrue();
            s = f.status("k");
            assertThat(s.usage().inFlight()).isZero();
            assertThat(s.totalRequests()).isEqualTo(rpm);
            assertThat(s.totalTokens()).isEqualTo(rpm * 10L);
            assertThat(s.usage().tpm()).isEqualTo(rpm * 10L);
        }
    }
}
