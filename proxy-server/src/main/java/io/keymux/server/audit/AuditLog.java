package io.keymux.server.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.IOException;
import java.time.Instant;
import java.util.Iterator;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import net.logstash.logback.argument.StructuredArguments;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes {@link AuditRecord}s as JSON lines on the logger {@code keymux.audit}. Request threads
 * (Netty event loops) only enqueue; one daemon thread drains the queue every 20 ms, formats and
 * writes, so a slow stdout never blocks an event loop and no request pays a thread wake-up. A drained
 * batch goes out in one write ({@link BatchedStdoutAppender}), flushed before the writer sleeps and
 * when it is {@linkplain #close closed}. The queue is bounded by {@code capacity}: past it a line is dropped and
 * counted ({@link #dropped()}) rather than letting memory grow without limit.
 */
public final class AuditLog implements AutoCloseable {
    /** The logger name of SPEC.md section 6. */
    public static final String LOGGER = "keymux.audit";

    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    /** How often the writer drains the queue: an audit line appears at most this late. */
    private static final long DRAIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final Logger logger;
    private final Queue<AuditRecord> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final LongAdder dropped = new LongAdder();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final int capacity;
    private final Thread writer;

    /** An audit log on {@code keymux.audit} holding at most {@code capacity} unwritten lines. */
    public AuditLog(int capacity) {
        this(LoggerFactory.getLogger(LOGGER), capacity);
    }

    /**
     * An audit log that writes nowhere, for keymux's warm-up exchanges: each line is still encoded as
     * the real audit log's appender encodes it, so that code is compiled before the first client.
     */
    public static AuditLog discarding() {
        return new AuditLog(EncodeAndDrop.logger(), 1024);
    }

    AuditLog(Logger logger, int capacity) {
        this.logger = logger;
        this.capacity = capacity;
        this.writer = new Thread(this::drainLoop, "keymux-audit-writer");
        this.writer.setDaemon(true);
        this.writer.start();
    }

    /** Queues a record; never blocks. */
    public void record(AuditRecord record) {
        if (queued.incrementAndGet() > capacity) {
            queued.decrementAndGet();
            dropped.increment();
            return;
        }
        // No wake-up per record: the writer drains every DRAIN_INTERVAL, so a busy proxy pays a queue
        // insert per request and no cross-thread signal.
        queue.offer(record);
    }

    /** Lines dropped because the writer fell more than {@code capacity} lines behind. */
    public long dropped() {
        return dropped.sum();
    }

    /** Writes what is queued, then stops the writer. */
    @Override
    public void close() {
        running.set(false);
        LockSupport.unpark(writer);
        try {
            writer.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void drainLoop() {
        boolean unflushed = false;
        while (true) {
            AuditRecord record = queue.poll();
            if (record != null) {
                queued.decrementAndGet();
                write(record);
                unflushed = true;
                continue;
            }
            if (unflushed) {
                // One write for the whole batch (BatchedStdoutAppender), once the queue is empty.
                flush();
                unflushed = false;
            }
            if (!running.get()) {
                return;
            }
            LockSupport.parkNanos(this, DRAIN_INTERVAL_NANOS);
        }
    }

    /** Flushes the appenders of the audit logger that do not flush per line. Writer thread only. */
    private void flush() {
        if (!(logger instanceof ch.qos.logback.classic.Logger logback)) {
            return;
        }
        Iterator<Appender<ILoggingEvent>> appenders = logback.iteratorForAppenders();
        while (appenders.hasNext()) {
            if (appenders.next() instanceof OutputStreamAppender<ILoggingEvent> stream && !stream.isImmediateFlush()
                    && stream.isStarted()) {
                try {
                    stream.getOutputStream().flush();
                } catch (IOException e) {
                    // stdout is gone (closed pipe): nothing left to write to, and nothing to tell.
                }
            }
        }
    }

    private void write(AuditRecord r) {
        logger.info("", StructuredArguments.entries(fields(r)));
    }

    /** The fields in SPEC.md section 6's order. */
    static Map<String, Object> fields(AuditRecord r) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("ts", TS.format(Instant.ofEpochMilli(r.tsMillis())));
        f.put("request_id", r.requestId());
        f.put("remote_addr", r.remoteAddr());
        f.put("client", r.client());
        f.put("task", r.task());
        f.put("key_id", r.keyId());
        f.put("upstream", r.upstream());
        f.put("method", r.method());
        f.put("path", r.path());
        f.put("status", r.status());
        f.put("attempts", r.attempts());
        f.put("latency_ms", r.latencyMs());
        f.put("ttfb_ms", r.ttfbMs());
        f.put("prompt_tokens", r.promptTokens());
        f.put("completion_tokens", r.completionTokens());
        f.put("cost_usd", r.costUsd());
        f.put("cache", r.cache());
        return f;
    }
}
