package io.keymux.server.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;

/**
 * The audit log's stdout appender: lines collect in a 64 KiB buffer on file descriptor 1 and go out
 * in one {@code write} when {@link AuditLog}'s writer thread has drained its queue (it flushes every
 * appender of {@code keymux.audit} that does not flush by itself), instead of one {@code write} per
 * line as {@code ConsoleAppender} does ({@code System.out} flushes on every write). Each line is still
 * one whole JSON object; nothing stays in the buffer once the writer is idle or closed.
 *
 * <pre>{@code
 * <appender name="AUDIT_STDOUT" class="io.keymux.server.audit.BatchedStdoutAppender">
 *   <encoder class="net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder">...</encoder>
 * </appender>
 * }</pre>
 */
public final class BatchedStdoutAppender extends OutputStreamAppender<ILoggingEvent> {
    private static final int BUFFER_BYTES = 64 * 1024;

    @Override
    public void start() {
        setImmediateFlush(false);
        setOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), BUFFER_BYTES));
        super.start();
    }
}
