package io.keymux.server.pipeline;

import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.keymux.server.wire.TokenUsage;
import io.netty.buffer.ByteBuf;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The one place an {@link UpstreamAttempt} settles its key's {@link Lease}: the attempt reports what
 * happened ({@link #refused}, {@link #answered}, {@link #hungUp}, {@link #cancelled}, {@link
 * #transportFailed}) in whatever order its events race, and the first report is turned into one
 * {@link Outcome} ({@link #outcome}) and handed to the lease; every later report is ignored, so a
 * cancel racing a completion neither settles twice nor counts usage twice.
 *
 * <p>It also owns what the outcome is computed from once the answer is committed to the client:
 * the {@link UsageTap} the answer's body goes through ({@link #relay}), the bytes relayed, and the
 * {@link UsageEstimate} charged when the usage never arrives. A client that hangs up after the
 * commit is charged what a whole answer would be, from what was relayed, so closing the stream
 * before the usage event does not dodge the budget.
 *
 * <pre>{@code
 * settlement.committed(200, verdict, tap);
 * sink.next(settlement.relay(chunk));
 * settlement.hungUp();   // settles: the usage so far, or the estimate
 * settlement.answered(); // ignored: already settled
 * }</pre>
 *
 * <p>Not thread-safe: an attempt's events all arrive on its exchange's event loop.
 */
final class AttemptSettlement {

    /** Where an attempt's settled usage and upstream latency are counted (the exchange's accounting). */
    interface Accounting {
        /** The tokens the settled answer is charged. */
        void usage(long promptTokens, long cachedPromptTokens, long completionTokens);

        /** The attempt's upstream answer time, for {@code keymux_upstream_latency_seconds}. */
        void latency(long nanos);
    }

    /** How the attempt ended, as reported: what {@link #outcome} turns into the lease's outcome. */
    private enum Ending {
        /** The upstream answered a status the task retries; nothing reached the client. */
        REFUSED,
        /** The upstream sent the whole committed answer. */
        ANSWERED,
        /** The client went away (before or after the commit). */
        HUNG_UP,
        /** Nobody to answer, or keymux's own failure: a refund, the key's health untouched. */
        CANCELLED,
        /** The connection failed or timed out. */
        TRANSPORT_FAILED
    }

    private static final Outcome CANCELLED = new Outcome.Cancelled();

    private final Lease lease;
    private final Accounting accounting;
    private final TimeSource time;
    /** When the attempt started, {@link TimeSource#nanoTime()}: its latency is measured from here. */
    private final long started;
    /** What a 2xx answer is charged when its usage never arrives, or {@code null} (not billed by tokens). */
    private final @Nullable UsageEstimate estimate;

    /** The answer's status, once judged (refused or committed). */
    private int status;
    /** The verdict on the answer, once judged. */
    private FailoverPolicy.@Nullable Verdict verdict;
    /** Reads the committed answer's usage; {@code null} until the commit, so a hang-up before it is a refund. */
    private @Nullable UsageTap tap;
    /** Answer body bytes that went on towards the client through the tap. */
    private long relayedBytes;
    private boolean settled;

    AttemptSettlement(Lease lease, Accounting accounting, TimeSource time, long started,
            @Nullable UsageEstimate estimate) {
        this.lease = Objects.requireNonNull(lease, "lease");
        this.accounting = Objects.requireNonNull(accounting, "accounting");
        this.time = Objects.requireNonNull(time, "time");
        this.started = started;
        this.estimate = estimate;
    }

    /** Passes what the provider's response headers say about the key's limits on to its lease. */
    void observe(ProviderLimits limits) {
        lease.observe(limits);
    }

    // ---- What happened before and at the commit ------------------------------------------------------

    /**
     * The answer of {@code status} is going to the client through {@code usageTap}: from now on a
     * hang-up is charged, not refunded.
     */
    void committed(int status, FailoverPolicy.Verdict verdict, UsageTap usageTap) {
        this.status = status;
        this.verdict = Objects.requireNonNull(verdict, "verdict");
        this.tap = Objects.requireNonNull(usageTap, "usageTap");
    }

    /** Whether the answer is committed to the client (the first byte is on its way: no retry). */
    boolean committed() {
        return tap != null;
    }

    /** Whether the usage tap may remove bytes (the usage-only chunk), so the answer's length may change. */
    boolean relayChangesLength() {
        return tap().changesLength();
    }

    /**
     * One chunk of the committed answer on its way to the client: counted and read for usage. Takes
     * {@code chunk}'s reference; returns one the caller owns (normally by writing it).
     */
    ByteBuf relay(ByteBuf chunk) {
        relayedBytes += chunk.readableBytes();
        return tap().feed(chunk);
    }

    /** The upstream's answer is over: bytes the tap held back, to send last (often empty; the caller owns them). */
    ByteBuf relayEnd() {
        return tap().finish();
    }

    /** Releases what the usage tap holds, once the answer's write is over; idempotent. */
    void closeTap() {
        UsageTap t = tap;
        if (t != null) {
            t.close();
        }
    }

    // ---- How the attempt ended: the first report settles -----------------------------------------------

    /** The upstream answered {@code status}, which the task retries: settled as {@code verdict} says. */
    void refused(int status, FailoverPolicy.Verdict verdict) {
        if (!settled) {
            this.status = status;
            this.verdict = Objects.requireNonNull(verdict, "verdict");
            settle(Ending.REFUSED, null);
        }
    }

    /** The upstream sent the whole committed answer: settled with its usage (or the estimate). */
    void answered() {
        settle(Ending.ANSWERED, null);
    }

    /**
     * The client went away. Before the commit nothing reached it: a refund. After, it has had
     * content, so it is charged as a whole answer would be.
     */
    void hungUp() {
        settle(Ending.HUNG_UP, null);
    }

    /** Nobody is left to answer, or keymux itself failed: a refund that leaves the key's health alone. */
    void cancelled() {
        settle(Ending.CANCELLED, null);
    }

    /** The upstream connection failed or timed out: the key's failure. */
    void transportFailed(Throwable error) {
        settle(Ending.TRANSPORT_FAILED, Objects.requireNonNull(error, "error"));
    }

    /** Whether the lease is settled. */
    boolean settled() {
        return settled;
    }

    private void settle(Ending ending, @Nullable Throwable error) {
        if (settled) {
            return;
        }
        settled = true;
        lease.settle(outcome(ending, error));
    }

    /**
     * The one outcome of the attempt, for the first way it ended. Counts the answer's latency and
     * usage on the way, so they are counted at most once too.
     */
    private Outcome outcome(Ending ending, @Nullable Throwable error) {
        // A switch expression over the enum: an ending added without its outcome does not compile.
        return switch (ending) {
            case REFUSED -> {
                accounting.latency(time.nanoTime() - started);
                Outcome refused = Objects.requireNonNull(verdict, "verdict").outcome();
                yield refused != null ? refused : new Outcome.Answered(status, 0, 0, false, time.nanoTime() - started);
            }
            case ANSWERED -> {
                Outcome passedThrough = Objects.requireNonNull(verdict, "verdict").outcome();
                if (passedThrough != null) {
                    // A 429 or 5xx the task does not retry still tells the broker about the key.
                    yield passedThrough;
                }
                long latency = time.nanoTime() - started;
                accounting.latency(latency);
                yield charged(tap(), latency);
            }
            case HUNG_UP -> {
                UsageTap usageTap = tap;
                FailoverPolicy.Verdict v = verdict;
                // Before the commit, or a passed-through refusal: nothing the client is charged for.
                yield usageTap == null || v == null || v.outcome() != null ? CANCELLED
                        : charged(usageTap, time.nanoTime() - started);
            }
            case CANCELLED -> CANCELLED;
            case TRANSPORT_FAILED -> FailoverPolicy.transportOutcome(Objects.requireNonNull(error, "error"));
        };
    }

    /**
     * The committed answer's outcome with its tokens: the usage it reported, else (a 2xx whose usage
     * never came: too large for the scanner, compressed, or cut short by the client) the {@link
     * UsageEstimate} of what was relayed, so that no answer settles at zero; else none, and the
     * reservation stands.
     */
    private Outcome.Answered charged(UsageTap usageTap, long latency) {
        TokenUsage usage = usageTap.usage();
        if (usage.isComplete()) {
            long prompt = Objects.requireNonNull(usage.promptTokens());
            long completion = Objects.requireNonNull(usage.completionTokens());
            long cached = usage.cachedPromptTokens();
            accounting.usage(prompt, cached, completion);
            return new Outcome.Answered(status, prompt, completion, true, latency, cached);
        }
        UsageEstimate guess = estimate;
        if (guess != null && status / 100 == 2) {
            long completion = guess.completionTokens(relayedBytes);
            accounting.usage(guess.promptTokens(), 0, completion);
            return new Outcome.Answered(status, guess.promptTokens(), completion, true, latency);
        }
        return new Outcome.Answered(status, 0, 0, false, latency);
    }

    private UsageTap tap() {
        return Objects.requireNonNull(tap, "the answer is not committed");
    }
}
