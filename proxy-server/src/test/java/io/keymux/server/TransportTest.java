package io.keymux.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import reactor.netty.resources.LoopResources;

/** {@code -Dkeymux.transport}: the one asked for where it runs, else the first of io_uring, epoll and NIO that does. */
class TransportTest {

    /** On Linux x86_64 both native transports ship and load (io_uring only where the kernel allows it). */
    @Test
    void theNativeTransportsLoadOnLinuxX86() {
        Assumptions.assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux")
                && System.getProperty("os.arch").matches("amd64|x86_64"), "native transport shipped for linux-x86_64 only");
        assertThat(Epoll.isAvailable()).as(String.valueOf(Epoll.unavailabilityCause())).isTrue();
        assertThat(LoopResources.hasNativeSupport()).isTrue();
        if (!"1".equals(readOrEmpty("/proc/sys/kernel/io_uring_disabled").trim())
                && !"2".equals(readOrEmpty("/proc/sys/kernel/io_uring_disabled").trim())) {
            assertThat(IoUring.isAvailable()).as(String.valueOf(IoUring.unavailabilityCause())).isTrue();
        }
    }

    private static String readOrEmpty(String path) {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of(path));
        } catch (java.io.IOException e) {
            return "";
        }
    }

    @Test
    void withoutAChoiceTheFirstTransportThatRunsHereIsTaken() {
        Transport expected = IoUring.isAvailable() ? Transport.IO_URING
                : LoopResources.hasNativeSupport() ? Transport.EPOLL : Transport.NIO;
        assertThat(Transport.choose(null)).isEqualTo(expected);
        assertThat(KeymuxServer.TRANSPORT).as("what the tests' keymux runs on")
                .isEqualTo(Transport.choose(System.getProperty("keymux.transport")));
    }

    @Test
    void aNamedTransportThatRunsIsTakenWhateverItsCase() {
        assertThat(Transport.choose("nio")).isEqualTo(Transport.NIO);
        assertThat(Transport.choose(" NIO ")).isEqualTo(Transport.NIO);
        if (LoopResources.hasNativeSupport()) {
            assertThat(Transport.choose("epoll")).isEqualTo(Transport.EPOLL);
        }
        if (IoUring.isAvailable()) {
            assertThat(Transport.choose("io_uring")).isEqualTo(Transport.IO_URING);
        }
    }

    @Test
    void anUnknownNameFallsBackToTheDefault() {
        assertThat(Transport.named("kqueue-ish")).isNull();
        assertThat(Transport.choose("kqueue-ish")).isEqualTo(Transport.choose(null));
    }
}
