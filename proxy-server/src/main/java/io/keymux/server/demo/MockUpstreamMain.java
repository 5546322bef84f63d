package io.keymux.server.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the mock upstream alone, for the load benchmark ({@code bench/load.sh}):
 * {@code java -cp keymux.jar io.keymux.server.demo.MockUpstreamMain PORT [LATENCY_MS] KEY...}.
 * Every key is healthy and unlimited. Stops on SIGTERM.
 */
public final class MockUpstreamMain {
    private MockUpstreamMain() {}

    /** Entry point. */
    public static void main(String[] args) throws InterruptedException {
        if (args.length < 2) {
            System.err.println("usage: MockUpstreamMain PORT [LATENCY_MS] KEY...");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        int first = 1;
        Duration latency = Duration.ZERO;
        if (args[1].chars().allMatch(Character::isDigit)) {
            latency = Duration.ofMillis(Long.parseLong(args[1]));
            first = 2;
        }
        List<MockKey> keys = new ArrayList<>();
        for (int i = first; i < args.length; i++) {
            keys.add(MockKey.healthy("key" + (i - first), args[i], 0, latency));
        }
        MockUpstream mock = MockUpstream.start(port, keys);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            mock.close();
            stopped.countDown();
        }, "mock-upstream-shutdown"));
        System.err.println("mock upstream listening on 127.0.0.1:" + mock.port());
        stopped.await();
    }
}
