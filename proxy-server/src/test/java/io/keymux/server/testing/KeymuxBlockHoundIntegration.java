package io.keymux.server.testing;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * keymux's BlockHound allow-list, loaded through {@code META-INF/services} by the BlockHound
 * installed for every test. Each entry names one call and why it is not a real blocking call.
 */
public final class KeymuxBlockHoundIntegration implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        // Netty 4.2's default AdaptivePoolingAllocator: when two event loops race to add a magazine,
        // the loser frees its fresh magazine under that magazine's StampedLock, which nobody else can
        // hold for more than a few instructions (seen under 500 concurrent streams). Netty's own
        // integration does not list it yet.
        builder.allowBlockingCallsInside("io.netty.buffer.AdaptivePoolingAllocator$Magazine", "free");
        // Lettuce 7: two threads writing commands to one connection at once (event loops settling
        // leases) meet in SharedLock's ReentrantLock, held only to bump a writer count.
        builder.allowBlockingCallsInside("io.lettuce.core.protocol.SharedLock", "incrementWriters");
        builder.allowBlockingCallsInside("io.lettuce.core.protocol.SharedLock", "decrementWriters");
        // Netty 4.2's io_uring loop, while it is being destroyed (the loop has stopped serving): it
        // spins (Thread.onSpinWait) until the ring's wakeup eventfd is no longer written. It runs
        // once per loop at shutdown, never on the request path.
        builder.allowBlockingCallsInside("io.netty.channel.uring.IoUringIoHandler", "closeWakeupGate");
    }
}
