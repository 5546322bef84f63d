package io.keymux.server.admin;

import io.keymux.core.insight.UtilisationHistory;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Samples every key's use into a {@link UtilisationHistory} on its own daemon thread, once at start
 * and then every {@link #PERIOD}, so recommendations see a window without any work on an event loop.
 */
public final class InsightSampler implements AutoCloseable {
    /** How often keys are sampled. */
    public static final Duration PERIOD = Duration.ofSeconds(10);
    /** The window recommendations and the health score look at. */
    public static final Duration WINDOW = Duration.ofMinutes(15);

    private static final Logger LOG = LoggerFactory.getLogger(InsightSampler.class);

    private final UtilisationHistory history = UtilisationHistory.over(WINDOW);
    private final KeyBroker broker;
    private final TimeSource time;
    private final ScheduledExecutorService scheduler;

    /** Starts sampling {@code broker} now. */
    public InsightSampler(KeyBroker broker, TimeSource time) {
        this.broker = Objects.requireNonNull(broker, "broker");
        this.time = Objects.requireNonNull(time, "time");
        history.sample(time.nanoTime(), broker.keyStates());
        this.scheduler = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "keymux-insight-sampler");
            thread.setDaemon(true);
            return thread;
        });
        scheduler.scheduleAtFixedRate(this::sample, PERIOD.toMillis(), PERIOD.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void sample() {
        try {
            history.sample(time.nanoTime(), broker.keyStates());
        } catch (RuntimeException e) {
            // A failed sample must not cancel the schedule (a scheduled task that throws never runs again).
            LOG.warn("key utilisation sample failed; recommendations use the samples they have", e);
        }
    }

    /** The sampled window. */
    public UtilisationHistory history() {
        return history;
    }

    /** Stops sampling. */
    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
