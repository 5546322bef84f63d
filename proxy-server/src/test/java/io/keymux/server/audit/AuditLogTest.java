package io.keymux.server.audit;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.logstash.logback.composite.loggingevent.ArgumentsJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventJsonProviders;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import org.junit.jupiter.api.Test;

class AuditLogTest {

    @Test
    void writesOneJsonObjectPerLineWithTheSpecFieldsInOrder() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Logger logger = captureTo(out);
        AuditRecord record = new AuditRecord(1_763_798_400_123L, "req-1", "10.1.2.3", "backend", "diagnosis", "diag_1",
                "openai", "POST", "/v1/chat/completions", 200, 2, 153, 40L, 12L, 30L, 0.0042, "off");
        AuditRecord rejected = new AuditRecord(1_763_798_400_456L, "req-2", "::1", null, null, null, null,
                "GET", "/v1/models", 401, 0, 1, null, null, null, null, "off");

        try (AuditLog audit = new AuditLog(logger, 100)) {
            audit.record(record);
            audit.record(rejected);
        }

        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(lines).hasSize(2);
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        assertThat(lines.get(0)).startsWith("{\"ts\":\"2025-11-22T08:00:00.123Z\",\"request_id\":\"req-1\"");
        List<String> names = new java.util.ArrayList<>();
        first.fieldNames().forEachRemaining(names::add);
        assertThat(names).containsExactly("ts", "request_id", "remote_addr", "client", "task", "key_id", "upstream", "method",
                "path", "status", "attempts", "latency_ms", "ttfb_ms", "prompt_tokens", "completion_tokens",
                "cost_usd", "cache");
        assertThat(first.get("status").asInt()).isEqualTo(200);
        assertThat(first.get("attempts").asInt()).isEqualTo(2);
        assertThat(first.get("cost_usd").asDouble()).isEqualTo(0.0042);
        JsonNode second = new ObjectMapper().readTree(lines.get(1));
        assertThat(second.get("status").asInt()).isEqualTo(401);
        assertThat(second.get("client").isNull()).isTrue();
        assertThat(first.get("remote_addr").asText()).isEqualTo("10.1.2.3");
        assertThat(second.get("remote_addr").asText()).isEqualTo("::1");
    }

    @Test
    void writesABatchOfLinesInOneWriteThroughANonFlushingAppender() throws Exception {
        // Counts the writes that reach the "file descriptor", as BatchedStdoutAppender's stream does.
        List<Integer> writes = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        java.io.OutputStream fd = new java.io.OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                writes.add(len);
                sink.write(b, off, len);
            }
        };
        Logger logger = captureTo(new java.io.BufferedOutputStream(fd, 64 * 1024), false);

        try (AuditLog audit = new AuditLog(logger, 1000)) {
            for (int i = 0; i < 50; i++) {
                audit.record(new AuditRecord(0, "req-" + i, null, null, null, null, null, "GET", "/", 200, 1, 1, null,
                        null, null, null, "off"));
            }
        }

        List<String> lines;
        synchronized (fd) {
            lines = sink.toString(StandardCharsets.UTF_8).lines().toList();
        }
        assertThat(lines).hasSize(50);
        assertThat(lines.get(49)).contains("\"request_id\":\"req-49\"");
        // Lines queued together leave together: one write per drained batch (normally one or two here,
        // more only if this thread was descheduled across several 20 ms drains), never one per line.
        assertThat(writes.size()).isLessThan(lines.size() / 2);
    }

    @Test
    void dropsAndCountsPastCapacityInsteadOfBlocking() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Logger logger = captureTo(out);
        logger.setLevel(ch.qos.logback.classic.Level.OFF);
        try (AuditLog audit = new AuditLog(logger, 0)) {
            audit.record(new AuditRecord(0, "r", null, null, null, null, null, "GET", "/", 200, 1, 1, null, null, null,
                    null, "off"));
            assertThat(audit.dropped()).isEqualTo(1);
        }
    }

    @Test
    void theWarmUpsLinesAreEncodedByTheAuditEncoderAndWrittenNowhere() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Logger audit = captureTo(out);
        OutputStreamAppender<ILoggingEvent> real = (OutputStreamAppender<ILoggingEvent>) audit.iteratorForAppenders().next();
        java.util.concurrent.atomic.AtomicInteger encoded = new java.util.concurrent.atomic.AtomicInteger();
        ch.qos.logback.core.encoder.Encoder<ILoggingEvent> counting = new ch.qos.logback.core.encoder.EncoderBase<>() {
            private final ch.qos.logback.core.encoder.Encoder<ILoggingEvent> inner = real.getEncoder();

            @Override
            public byte[] headerBytes() {
                return inner.headerBytes();
            }

            @Override
            public byte[] encode(ILoggingEvent event) {
                encoded.incrementAndGet();
                return inner.encode(event);
            }

            @Override
            public byte[] footerBytes() {
                return inner.footerBytes();
            }
        };
        real.setEncoder(counting);

        try (AuditLog warmUp = new AuditLog(EncodeAndDrop.logger(audit.getLoggerContext()), 100)) {
            for (int i = 0; i < 3; i++) {
                warmUp.record(new AuditRecord(1_763_798_400_123L, "warm-" + i, "127.0.0.1", "warm", "chat", "warm_a", "warm",
                        "POST", "/v1/chat/completions", 200, 1, 1, 1L, 1L, 1L, 0.0, "off"));
            }
        }

        assertThat(encoded).as("each warm-up line went through the audit encoder").hasValue(3);
        assertThat(out.size()).as("and none of them reached the audit log").isZero();
    }

    private static Logger captureTo(ByteArrayOutputStream out) {
        return captureTo(out, true);
    }

    private static Logger captureTo(java.io.OutputStream out, boolean immediateFlush) {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
        context.start();
        LoggingEventCompositeJsonEncoder encoder = new LoggingEventCompositeJsonEncoder();
        encoder.setContext(context);
        LoggingEventJsonProviders providers = new LoggingEventJsonProviders();
        providers.addArguments(new ArgumentsJsonProvider());
        encoder.setProviders(providers);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> appender = new OutputStreamAppender<>();
        appender.setContext(context);
        appender.setEncoder(encoder);
        appender.setOutputStream(out);
        appender.setImmediateFlush(immediateFlush);
        appender.start();
        Logger logger = context.getLogger(AuditLog.LOGGER);
        logger.addAppender(appender);
        logger.setAdditive(false);
        return logger;
    }
}
