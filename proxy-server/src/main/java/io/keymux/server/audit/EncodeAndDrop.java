package io.keymux.server.audit;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.util.Iterator;
import org.jspecify.annotations.Nullable;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.helpers.NOPLogger;

/**
 * The warm-up's audit logger, {@code keymux.audit.warm-up}: each line is encoded by the encoder of
 * the real {@code keymux.audit} appender, then dropped. The audit writer's formatting (logback,
 * logstash's encoder, Jackson) is then compiled before the first client, like the rest of the
 * request path, yet no warm-up line reaches the audit log: the logger does not pass its events up.
 */
final class EncodeAndDrop extends AppenderBase<ILoggingEvent> {
    private static final String LOGGER = AuditLog.LOGGER + ".warm-up";

    private final Encoder<ILoggingEvent> encoder;

    private EncodeAndDrop(Encoder<ILoggingEvent> encoder) {
        this.encoder = encoder;
    }

    /**
     * The warm-up audit logger; a no-op logger when logback is not the binding or the real audit
     * logger has no encoding appender (then there is nothing to warm).
     */
    static Logger logger() {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        return factory instanceof LoggerContext context ? logger(context) : NOPLogger.NOP_LOGGER;
    }

    /** The warm-up audit logger of {@code context}, as {@link #logger()}. */
    static synchronized Logger logger(LoggerContext context) {
        ch.qos.logback.classic.Logger warm = context.getLogger(LOGGER);
        if (warm.iteratorForAppenders().hasNext()) {
            return warm; // set up by an earlier warm-up in this process
        }
        Encoder<ILoggingEvent> encoder = auditEncoder(context.getLogger(AuditLog.LOGGER));
        if (encoder == null) {
            return NOPLogger.NOP_LOGGER;
        }
        EncodeAndDrop appender = new EncodeAndDrop(encoder);
        appender.setContext(context);
        appender.setName("keymux-audit-warm-up");
        appender.start();
        warm.setAdditive(false);
        warm.setLevel(Level.INFO);
        warm.addAppender(appender);
        return warm;
    }

    private static @Nullable Encoder<ILoggingEvent> auditEncoder(ch.qos.logback.classic.Logger audit) {
        Iterator<Appender<ILoggingEvent>> appenders = audit.iteratorForAppenders();
        while (appenders.hasNext()) {
            if (appenders.next() instanceof OutputStreamAppender<ILoggingEvent> stream && stream.getEncoder() != null) {
                return stream.getEncoder();
            }
        }
        return null;
    }

    @Override
    protected void append(ILoggingEvent event) {
        // Encoded as the real line would be (the encoder is thread-safe), and the bytes dropped.
        encoder.encode(event);
    }
}
