package io.keymux.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import reactor.netty.resources.LoopResources;

/** On Linux x86_64 the native epoll transport loads, so Reactor Netty's loops (and keymux's) use it. */
class TransportTest {

    @Test
    void epollIsAvailableOnLinuxX86() {
        Assumptions.assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux")
                && System.getProperty("os.arch").matches("amd64|x86_64"), "native transport shipped for linux-x86_64 only");
        assertThat(Epoll.isAvailable()).as(String.valueOf(Epoll.unavailabilityCause())).isTrue();
        assertThat(LoopResources.hasNativeSupport()).isTrue();
    }
}
