package io.keymux.config.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AwaitTest {

    @Test
    void returnsOnceAnotherThreadMakesTheConditionTrue() throws InterruptedException {
        AtomicInteger value = new AtomicInteger();
        CountDownLatch polled = new CountDownLatch(3);
        Thread setter = new Thread(() -> {
            try {
                polled.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            value.set(1);
        });
        setter.start();
        Await.until("value 1", () -> {
            polled.countDown();
            return value.get() == 1;
        }, Duration.ofSeconds(30));
        assertThat(value.get()).isEqualTo(1);
        assertThat(polled.getCount()).isZero();
        setter.join();
    }

    @Test
    void pollsRatherThanSpinning() {
        AtomicInteger polls = new AtomicInteger();
        assertThatThrownBy(() -> Await.until("never", () -> polls.incrementAndGet() < 0, Duration.ofMillis(100)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("waiting for never");
        // At one poll per 10 ms, 100 ms allow about 11 polls; a spin loop would make millions.
        assertThat(polls.get()).isBetween(2, 1000);
    }

    @Test
    void pollsAtTheGivenInterval() {
        AtomicInteger polls = new AtomicInteger();
        assertThatThrownBy(() -> Await.until("never", () -> polls.incrementAndGet() < 0, Duration.ofMillis(300),
                Duration.ofMillis(100)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("waiting for never");
        // At one poll per 100 ms, 300 ms allow about 4 polls; the default 10 ms would make about 31.
        assertThat(polls.get()).isBetween(2, 8);
    }

    @Test
    void aPollIntervalMustBePositive() {
        assertThatThrownBy(() -> Await.until("x", () -> true, Duration.ofSeconds(1), Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("pollInterval: PT0S (expected: > 0)");
    }
}
