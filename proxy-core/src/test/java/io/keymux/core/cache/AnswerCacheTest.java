package io.keymux.core.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.core.time.TimeSource;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AnswerCacheTest {
    /** A clock the test moves by hand (Caffeine reads it as its Ticker). */
    static final class ManualTime implements TimeSource {
        long nanos = 1_000_000_000L;

        @Override
        public long nanoTime() {
            return nanos;
        }

        @Override
        public long currentTimeMillis() {
            return nanos / 1_000_000;
        }
    }

    private final ManualTime time = new ManualTime();

    static CacheKey key(String body) {
        return CacheKey.of("chat", "client:app", "POST", "/v1/chat/completions", body.getBytes(StandardCharsets.UTF_8));
    }

    static void answer(Flight flight, String body, double cost) {
        assertThat(flight.start(200, "application/json", false)).isTrue();
        flight.chunk(body.getBytes(StandardCharsets.UTF_8));
        flight.complete(cost);
    }

    @Test
    void aCompletedAnswerIsAHitUntilItsTtlEnds() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        CacheLookup first = cache.lookup(key("a"), Duration.ofMinutes(10));
        assertThat(first).isInstanceOf(CacheLookup.Lead.class);
        answer(((CacheLookup.Lead) first).flight(), "{\"x\":1}", 0.25);

        CacheLookup second = cache.lookup(key("a"), Duration.ofMinutes(10));
        assertThat(second).isInstanceOfSatisfying(CacheLookup.Hit.class, hit -> {
            assertThat(new String(hit.answer().body(), StandardCharsets.UTF_8)).isEqualTo("{\"x\":1}");
            assertThat(hit.answer().status()).isEqualTo(200);
            assertThat(hit.answer().costUsd()).isEqualTo(0.25);
        });
        assertThat(cache.lookup(key("b"), Duration.ofMinutes(10))).isInstanceOf(CacheLookup.Lead.class);

        time.nanos += Duration.ofMinutes(10).toNanos() - 1;
        assertThat(cache.lookup(key("a"), Duration.ofMinutes(10))).isInstanceOf(CacheLookup.Hit.class);
        time.nanos += 1;
        assertThat(cache.lookup(key("a"), Duration.ofMinutes(10))).isInstanceOf(CacheLookup.Lead.class);
    }

    @Test
    void anIdenticalRequestInFlightIsJoinedAndGetsTheStartAndEveryChunkInOrder() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        Flight flight = ((CacheLookup.Lead) cache.lookup(key("s"), Duration.ofMinutes(1))).flight();
        flight.start(200, "text/event-stream", true);
        flight.chunk(bytes("data: 1\n\n"));

        CacheLookup join = cache.lookup(key("s"), Duration.ofMinutes(1));
        assertThat(join).isInstanceOf(CacheLookup.Join.class);
        Recorder late = new Recorder();
        assertThat(((CacheLookup.Join) join).flight().join(late)).isTrue();
        flight.chunk(bytes("data: [DONE]\n\n"));
        flight.complete(0.5);

        assertThat(late.events).containsExactly("start 200 text/event-stream true", "chunk data: 1\n\n",
                "chunk data: [DONE]\n\n", "complete 0.5");
        assertThat(cache.flights()).isZero();
        assertThat(cache.lookup(key("s"), Duration.ofMinutes(1))).isInstanceOfSatisfying(CacheLookup.Hit.class,
                hit -> assertThat(new String(hit.answer().body(), StandardCharsets.UTF_8))
                        .isEqualTo("data: 1\n\ndata: [DONE]\n\n"));
    }

    @Test
    void aNonSuccessAbandonsTheFlightAndIsNeverStored() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        Flight flight = ((CacheLookup.Lead) cache.lookup(key("e"), Duration.ofMinutes(1))).flight();
        Recorder waiter = new Recorder();
        flight.join(waiter);
        assertThat(flight.start(500, "application/json", false)).isFalse();
        flight.complete(1);
        assertThat(waiter.events).containsExactly("abandon");
        assertThat(cache.lookup(key("e"), Duration.ofMinutes(1))).isInstanceOf(CacheLookup.Lead.class);
        assertThat(cache.entries()).isZero();
    }

    @Test
    void aBrokenAnswerIsNotStoredAndTellsWaitersToGoOnByThemselves() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        Flight flight = ((CacheLookup.Lead) cache.lookup(key("b"), Duration.ofMinutes(1))).flight();
        flight.start(200, "text/event-stream", true);
        flight.chunk(bytes("data: 1\n\n"));
        Recorder waiter = new Recorder();
        flight.join(waiter);
        flight.abandon();
        assertThat(waiter.events).containsExactly("start 200 text/event-stream true", "chunk data: 1\n\n", "abandon");
        assertThat(cache.entries()).isZero();
        assertThat(flight.join(new Recorder())).isFalse();
    }

    @Test
    void answersOverEightMebibytesPassButAreNeverStoredAndStopTakingJoiners() {
        AnswerCache cache = AnswerCache.createForTest(64L << 20, time);
        Flight flight = ((CacheLookup.Lead) cache.lookup(key("big"), Duration.ofMinutes(1))).flight();
        Recorder early = new Recorder();
        flight.join(early);
        flight.start(200, "application/json", false);
        byte[] mib = new byte[1 << 20];
        for (int i = 0; i < 9; i++) {
            flight.chunk(mib);
        }
        assertThat(flight.join(new Recorder())).isFalse();
        assertThat(cache.lookup(key("big"), Duration.ofMinutes(1))).isInstanceOf(CacheLookup.Lead.class);
        flight.complete(0);
        assertThat(early.events).hasSize(1 + 9 + 1);
        assertThat(cache.entries()).isZero();
    }

    @Test
    void theUpstreamCallIsCancelledOnlyWhenNobodyWaitsAnyMoreLeaderIncluded() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        Flight flight = ((CacheLookup.Lead) cache.lookup(key("c"), Duration.ofMinutes(1))).flight();
        int[] cancelled = {0};
        flight.onIdle(() -> cancelled[0]++);
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        flight.join(a);
        flight.join(b);
        flight.leaderLeft();
        assertThat(cancelled[0]).isZero();
        flight.leave(a);
        assertThat(cancelled[0]).isZero();
        flight.leave(b);
        assertThat(cancelled[0]).isOne();
        flight.leave(b);
        assertThat(cancelled[0]).isOne();
    }

    @Test
    void aWaiterLeavingAfterTheAnswerCompletedCancelsNothing() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        Flight flight = ((CacheLookup.Lead) cache.lookup(key("d"), Duration.ofMinutes(1))).flight();
        int[] cancelled = {0};
        flight.onIdle(() -> cancelled[0]++);
        Recorder a = new Recorder();
        flight.join(a);
        answer(flight, "{}", 0);
        flight.leaderLeft();
        flight.leave(a);
        assertThat(cancelled[0]).isZero();
    }

    @Test
    void aHundredThousandDistinctEntriesStayWithinMaxBytes() {
        long maxBytes = 8L << 20;
        AnswerCache cache = AnswerCache.createForTest(maxBytes, time);
        byte[] body = new byte[1000];
        int weight = new StoredAnswer(200, "application/json", body, false, 0).weight();
        for (int i = 0; i < 100_000; i++) {
            Flight flight = ((CacheLookup.Lead) cache.lookup(key("distinct-" + i), Duration.ofMinutes(10))).flight();
            flight.start(200, "application/json", false);
            flight.chunk(body);
            flight.complete(0);
            if (i % 10_000 == 0) {
                assertThat(cache.bytes()).isLessThanOrEqualTo(maxBytes);
            }
        }
        cache.cleanUp();
        assertThat(cache.bytes()).isLessThanOrEqualTo(maxBytes);
        // Bounded from both sides: eviction keeps the store nearly full, not emptied.
        assertThat(cache.entries()).isBetween(maxBytes / weight * 9 / 10, maxBytes / weight);
        assertThat(cache.flights()).isZero();
    }

    @Test
    void purgeEmptiesTheStoreAndSaysHowManyAnswersItHeld() {
        AnswerCache cache = AnswerCache.createForTest(1 << 20, time);
        for (int i = 0; i < 3; i++) {
            answer(((CacheLookup.Lead) cache.lookup(key("p" + i), Duration.ofMinutes(1))).flight(), "{}", 0);
        }
        assertThat(cache.purge()).isEqualTo(3);
        assertThat(cache.entries()).isZero();
        assertThat(cache.bytes()).isZero();
        assertThat(cache.lookup(key("p0"), Duration.ofMinutes(1))).isInstanceOf(CacheLookup.Lead.class);
    }

    @Test
    void theKeyShowsOnlyItsDigestAndEveryFieldCounts() {
        CacheKey k = CacheKey.of("chat", "client:app", "POST", "/v1/x?q=1", bytes("{\"prompt\":\"secret-ish\"}"));
        assertThat(k.toString()).matches("CacheKey\\[sha256:[0-9a-f]{16}]").doesNotContain("app", "chat", "secret");
        assertThat(k).isEqualTo(CacheKey.of("chat", "client:app", "POST", "/v1/x?q=1", bytes("{\"prompt\":\"secret-ish\"}")));
        List<CacheKey> others = new ArrayList<>(List.of(
                CacheKey.of("chat2", "client:app", "POST", "/v1/x?q=1", bytes("{\"prompt\":\"secret-ish\"}")),
                CacheKey.of("chat", "client:other", "POST", "/v1/x?q=1", bytes("{\"prompt\":\"secret-ish\"}")),
                CacheKey.of("chat", "client:app", "PUT", "/v1/x?q=1", bytes("{\"prompt\":\"secret-ish\"}")),
                CacheKey.of("chat", "client:app", "POST", "/v1/x?q=2", bytes("{\"prompt\":\"secret-ish\"}")),
                CacheKey.of("chat", "client:app", "POST", "/v1/x?q=1", bytes("{\"prompt\":\"secret-isH\"}")),
                // Field boundaries are part of the digest: moving a character between fields changes it.
                CacheKey.of("cha", "tclient:app", "POST", "/v1/x?q=1", bytes("{\"prompt\":\"secret-ish\"}"))));
        assertThat(others).doesNotContain(k).doesNotHaveDuplicates();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static final class Recorder implements FlightListener {
        final List<String> events = new ArrayList<>();

        @Override
        public void onStart(int status, String contentType, boolean eventStream) {
            events.add("start " + status + " " + contentType + " " + eventStream);
        }

        @Override
        public void onChunk(byte[] chunk) {
            events.add(chunk.length > 100 ? "chunk" : "chunk " + new String(chunk, StandardCharsets.UTF_8));
        }

        @Override
        public void onComplete(double costUsd) {
            events.add("complete " + costUsd);
        }

        @Override
        public void onAbandon() {
            events.add("abandon");
        }
    }
}
