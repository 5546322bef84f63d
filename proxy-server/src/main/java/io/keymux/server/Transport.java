package io.keymux.server;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import reactor.netty.resources.LoopResources;

/**
 * The network transport of keymux's event loops, the same for both listeners, the warm-up and the
 * upstream connections: chosen once per process with {@code -Dkeymux.transport=io_uring|epoll|nio},
 * or, without it, the first of these that the kernel and JVM can run (the order Reactor Netty
 * itself takes).
 *
 * <p>They differ on the request path in how a read is asked for. Reactor Netty's server turns
 * auto-read off and on again around every request:
 * <ul>
 *   <li>{@link #IO_URING}: a read is a submission queued in the ring, and the loop hands all of an
 *       iteration's reads and writes to the kernel in one {@code io_uring_enter}, so the toggle
 *       costs no syscall and neither does a socket read or write (bench/dataplane.sh: 0.3 syscalls
 *       per request, 30-33 µs CPU);
 *   <li>{@link #EPOLL}: Netty makes each toggle an {@code epoll_ctl} at once, besides a {@code read}
 *       and a {@code write} per socket (6.4 syscalls per request, 29-33 µs CPU); keymux's epoll
 *       loops apply a channel's interest once per loop iteration ({@link CoalescedEpollInterest}),
 *       so a toggle that ends where it began costs none;
 *   <li>{@link #NIO}: the JDK's selector applies interest changes at its next select, so the toggle
 *       is free, but the selector costs CPU (4.6 syscalls, about 7 µs more than epoll).
 * </ul>
 * io_uring is the default where it runs. Container runtimes' default seccomp profiles (Docker's,
 * containerd's) and gVisor refuse it; there keymux takes epoll, and NIO where neither runs.
 */
enum Transport {
    IO_URING("io_uring"),
    EPOLL("epoll"),
    NIO("nio");

    private final String configName;

    Transport(String configName) {
        this.configName = configName;
    }

    /** The name {@code -Dkeymux.transport} takes and the start-up log prints. */
    String configName() {
        return configName;
    }

    /** Whether this kernel and JVM can run it. */
    boolean available() {
        return switch (this) {
            case IO_URING -> IoUring.isAvailable();
            case EPOLL -> Epoll.isAvailable();
            case NIO -> true;
        };
    }

    /**
     * The transport for {@code requested} (a {@code -Dkeymux.transport} value, or null for the
     * default): the one asked for when it runs here, else the first of io_uring, epoll and NIO
     * that does (also for a name that is none of the three; the caller logs the difference).
     */
    static Transport choose(@Nullable String requested) {
        Transport asked = requested == null ? null : named(requested);
        if (asked != null && asked.available()) {
            return asked;
        }
        for (Transport t : values()) {
            if (t.available()) {
                return t;
            }
        }
        return NIO;
    }

    /** The transport called {@code name} (any case), or null when none is. */
    static @Nullable Transport named(String name) {
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        for (Transport t : values()) {
            if (t.configName.equals(wanted)) {
                return t;
            }
        }
        return null;
    }

    /**
     * {@code threads} event loops named after {@code prefix} on this transport: {@link EpollLoops}
     * for epoll (Reactor Netty's own loops would pick io_uring whenever it runs, and apply each
     * auto-read toggle as a syscall of its own), Reactor Netty's for io_uring and, with
     * {@code preferNative} false, NIO.
     */
    LoopResources loops(String prefix, int threads) {
        return this == EPOLL ? EpollLoops.create(prefix, threads) : LoopResources.create(prefix, threads, true);
    }

    /**
     * The {@code preferNative} flag for {@code runOn(loops, preferNative)} with {@link #loops}: false
     * only for NIO.
     */
    boolean preferNative() {
        return this != NIO;
    }
}
