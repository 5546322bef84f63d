package io.keymux.core.select;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The usage window counts exactly, also when many writers open a new second at once, and forgets after 60 s. */
class SlidingWindowTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void writersThatOpenANewSecondTogetherLoseNoCount() throws InterruptedException {
        SlidingWindow window = new SlidingWindow();
        int threads = 8;
        int seconds = 200; // each one a fresh reset race in its slot, the later 140 over an older second's cell
        CountDownLatch start = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            new Thread(() -> {
                try {
                    start.await();
                    for (int s = 0; s < seconds; s++) {
                        for (int i = 0; i < 50; i++) {
                            window.add(s * SECOND, 1);
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    done.countDown();
                }
            }).start();
        }
        start.countDown();
        assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();

        // A thread may run ahead into later seconds, but the last 60 seconds were each written by all.
        assertThat(window.sum((seconds - 1) * SECOND)).isEqualTo(60L * threads * 50);
    }

    @Test
    void aCountLeavesTheWindowSixtySecondsLater() {
        SlidingWindow window = new SlidingWindow();
        window.add(10 * SECOND, 5);
        window.add(30 * SECOND, 7);

        assertThat(window.sum(30 * SECOND)).isEqualTo(12);
        assertThat(window.sum(69 * SECOND)).isEqualTo(12);
        assertThat(window.sum(70 * SECOND)).isEqualTo(7);
        assertThat(window.sum(90 * SECOND)).isZero();
    }
}
