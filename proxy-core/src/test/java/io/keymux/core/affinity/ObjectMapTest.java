package io.keymux.core.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The bounded id-to-key map: size bound, expiry after last use, forgetting. */
class ObjectMapTest {

    /** A clock that moves only when told. */
    private static final class Clock implements TimeSource {
        final AtomicLong nanos = new AtomicLong(1);

        @Override
        public long nanoTime() {
            return nanos.get();
        }

        @Override
        public long currentTimeMillis() {
            return nanos.get() / 1_000_000;
        }

        void advance(Duration d) {
            nanos.addAndGet(d.toNanos());
        }
    }

    @Test
    void tenThousandIdsIntoAMapOfAThousandStayWithinTheBound() {
        ObjectMap map = ObjectMap.create(1_000, Duration.ofDays(30), new Clock());
        for (int i = 0; i < 10_000; i++) {
            map.remember("file-" + i, "key_" + (i % 3));
        }
        assertThat(map.size()).isLessThanOrEqualTo(1_000);
        // The most recent ids are the ones kept (Caffeine's W-TinyLFU may keep a few older ones too).
        int recentKept = 0;
        for (int i = 9_900; i < 10_000; i++) {
            if (map.keyOf("file-" + i) != null) {
                recentKept++;
            }
        }
        assertThat(recentKept).isGreaterThan(0);
    }

    @Test
    void tenThousandIdsFitAMapOfTenThousand() {
        ObjectMap map = ObjectMap.create(10_000, Duration.ofDays(30), new Clock());
        for (int i = 0; i < 10_000; i++) {
            map.remember("resp_" + i, "key_" + (i % 4));
        }
        assertThat(map.size()).isEqualTo(10_000);
        assertThat(map.keyOf("resp_0")).isEqualTo("key_0");
        assertThat(map.keyOf("resp_9999")).isEqualTo("key_3");
    }

    @Test
    void anIdIsForgottenTtlAfterItsLastUse() {
        Clock clock = new Clock();
        ObjectMap map = ObjectMap.create(100, Duration.ofHours(1), clock);
        map.remember("file-a", "k1");
        map.remember("file-b", "k1");
        clock.advance(Duration.ofMinutes(50));
        assertThat(map.keyOf("file-a")).isEqualTo("k1"); // a use: a's hour starts again
        clock.advance(Duration.ofMinutes(20));
        assertThat(map.keyOf("file-b")).isNull();
        assertThat(map.keyOf("file-a")).isEqualTo("k1");
    }

    @Test
    void forgetRemovesAnId() {
        ObjectMap map = ObjectMap.create(100, Duration.ofHours(1), new Clock());
        map.remember("batch_1", "k1");
        map.forget("batch_1");
        assertThat(map.keyOf("batch_1")).isNull();
    }
}
