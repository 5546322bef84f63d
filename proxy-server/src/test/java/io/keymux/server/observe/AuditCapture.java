package io.keymux.server.observe;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import io.keymux.server.audit.AuditLog;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.logstash.logback.composite.loggingevent.ArgumentsJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventJsonProviders;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import org.slf4j.LoggerFactory;

/**
 * Captures {@code keymux.audit} as production writes it (logback.xml's encoder: only the arguments
 * provider), for the duration of a test. The tests' logback config turns the logger off; this turns
 * it on and restores it on {@link #close()}.
 */
public final class AuditCapture implements AutoCloseable {
    private final Logger logger = (Logger) LoggerFactory.getLogger(AuditLog.LOGGER);
    private final Level previous = logger.getLevel();
    private final boolean additive = logger.isAdditive();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final OutputStreamAppender<ILoggingEvent> appender = new OutputStreamAppender<>();

    public AuditCapture() {
        LoggerContext context = logger.getLoggerContext();
        LoggingEventCompositeJsonEncoder encoder = new LoggingEventCompositeJsonEncoder();
        encoder.setContext(context);
        LoggingEventJsonProviders providers = new LoggingEventJsonProviders();
        providers.addArguments(new ArgumentsJsonProvider());
        encoder.setProviders(providers);
        encoder.start();
        appender.setContext(context);
        appender.setEncoder(encoder);
        appender.setOutputStream(out);
        appender.start();
        logger.addAppender(appender);
        logger.setLevel(Level.INFO);
        logger.setAdditive(false);
    }

    /** The lines written so far (complete once the server that wrote them is closed). */
    public List<String> lines() {
        synchronized (out) {
            return out.toString(StandardCharsets.UTF_8).lines().toList();
        }
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        appender.stop();
        logger.setLevel(previous);
        logger.setAdditive(additive);
    }
}
