package io.keymux.server.pipeline;

import io.keymux.core.cache.Flight;
import io.keymux.server.cache.FlightRelay;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.health.AnswerClassifier;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.keymux.server.upstream.UpstreamTarget;
import io.keymux.server.wire.SseUsageScanner;
import io.keymux.server.wire.TokenUsage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientResponse;
import reactor.netty.http.server.HttpServerResponse;

/**
 * One upstream attempt of an exchange, with one key: send, then either stream the answer back or
 * report a retryable failure, as a {@link Result} value. It owns what an attempt must do exactly
 * once or in order:
 *
 * <ul>
 *   <li><b>settle once</b>: the lease is settled by the first of answer-complete, failure or
 *   cancel ({@link #settle});</li>
 *   <li><b>the first-byte commit</b>: nothing reaches the client before the answer's first body
 *   chunk (or its empty end); until then a refused status, a stall or a broken connection is a
 *   {@link Result.Retry} and fails over invisibly; after it ({@link #committed}) there is no retry;</li>
 *   <li><b>the usage tap</b>, which reads usage from the answer on its way through;</li>
 *   <li><b>the timeouts</b>: one timer on the upstream connection's event loop, armed for
 *   {@code first_byte} when the request is sent and again when the headers arrive, then
 *   {@code idle} between chunks (a chunk only moves the deadline; no handler is added or removed
 *   per request).</li>
 * </ul>
 *
 * <p>An exchange and its upstream connection share one event loop ({@link
 * io.keymux.server.upstream.UpstreamClients}), so the fields below are plain.
 */
final class UpstreamAttempt {
    /** Audit status of a request whose client went away before an answer started (nginx's 499). */
    static final int CLIENT_CLOSED_REQUEST = 499;

    /**
     * Why an attempt did not deliver an answer, and what the client gets if it was the last.
     *
     * @param reason the {@code retry_on} name, for {@code keymux_failovers_total}
     */
    record Failure(KeymuxError error, String reason) {}

    /** How an attempt ended: the exchange is answered (possibly broken mid-stream), or retry with another key. */
    sealed interface Result {
        /** The client got its answer (or an error, or went away): the attempt loop stops. */
        record Delivered() implements Result {}

        /** Nothing reached the client; another key may try. */
        record Retry(Failure failure) implements Result {}
    }

    private static final Result DELIVERED = new Result.Delivered();

    private final ProxyPipeline pipeline;
    private final RequestAccounting accounting;
    private final TimeSource time;
    private final Exchange ex;
    private final TaskConfig task;
    private final Lease lease;
    private final boolean injectedUsage;
    /** The request's {@code model}, so a 429 naming it is told from one for the whole key. */
    private final @Nullable String model;
    private final long started;

    private boolean settled;
    /** Set once the first chunk is on its way to the client: from then on there is no retry. */
    private boolean committed;
    /** Set once the upstream has sent the whole answer. */
    private boolean whole;
    private @Nullable UsageTap tap;

    // The timeout: one scheduled task on the upstream connection's loop; chunks only move the deadline.
    private @Nullable Channel upstream;
    private @Nullable ScheduledFuture<?> timer;
    private long timerAt;
    private long deadline;
    private long idleNanos;
    private boolean timerStopped;

    UpstreamAttempt(ProxyPipeline pipeline, RequestAccounting accounting, TimeSource time, Exchange ex,
            TaskConfig task, Lease lease, boolean injectedUsage, @Nullable String model) {
        this.pipeline = pipeline;
        this.accounting = accounting;
        this.time = time;
        this.ex = ex;
        this.task = task;
        this.lease = lease;
        this.injectedUsage = injectedUsage;
        this.model = model;
        this.started = time.nanoTime();
        this.idleNanos = Math.max(1, task.timeouts().idle().toNanos());
    }

    /** Sends the request (head and body in one write) and handles the answer. */
    Mono<Result> run(HttpClient client, UpstreamTarget target, HttpHeaders headers, byte[] body) {
        return client
                .request(ex.request.method())
                .uri(target.uri())
                .send((req, out) -> {
                    // Headers on the request itself, not on the client's configuration (no copy per request).
                    req.headers(headers);
                    String host = headers.get(HttpHeaderNames.HOST);
                    if (host != null) {
                        req.header(HttpHeaderNames.HOST, host);
                    }
                    out.withConnection(connection -> timeoutAfter(connection.channel(), task.timeouts().firstByte()));
                    // A Mono body goes out as one full request: head and body in one write.
                    return body.length == 0 ? out : out.send(Mono.just(Unpooled.wrappedBuffer(body)));
                })
                .responseConnection(this::answer)
                .singleOrEmpty()
                .onErrorResume(error -> {
                    if (!committed) {
                        accounting.upstreamHeaders(ex, started);
                    }
                    return failed(error);
                })
                .doOnCancel(() -> settle(new Outcome.Cancelled()))
                .doFinally(signal -> stopTimer());
    }

    /** Settles the lease, once: later outcomes of the same attempt are ignored. */
    void settle(Outcome outcome) {
        if (!settled) {
            settled = true;
            lease.settle(outcome);
        }
    }

    private Publisher<Result> answer(HttpClientResponse response, Connection connection) {
        // Headers are in; the first chunk gets its own first_byte budget.
        timeoutAfter(connection.channel(), task.timeouts().firstByte());
        int status = response.status().code();
        HttpHeaders upstreamHeaders = response.responseHeaders();
        long now = time.currentTimeMillis();
        lease.observe(ProviderLimits.parse(upstreamHeaders::get, now));
        // retain(): the inbound releases each buffer after onNext, but the held first chunk and the
        // client write outlive that; the write (or the drain of a refused answer) releases our reference.
        Flux<ByteBuf> inbound = connection.inbound().receive().retain()
                .doOnNext(chunk -> deadline = System.nanoTime() + idleNanos);
        if (!AnswerClassifier.wantsBody(status)) {
            FailoverPolicy.Verdict verdict = FailoverPolicy.judge(task.retryOn(), status, upstreamHeaders::get, now);
            return answer(status, upstreamHeaders, verdict, inbound, connection);
        }
        // A 429 or 503 means what its body says (rate limit or quota; overloaded or not): hold the first
        // BODY_LOOK_BYTES, judge, then drain or stream them and the rest as any other answer.
        int[] seen = {0};
        return inbound
                .bufferUntil(chunk -> (seen[0] += chunk.readableBytes()) >= AnswerClassifier.BODY_LOOK_BYTES)
                .switchOnFirst((first, batches) -> {
                    // A body that broke before the look is judged by its status and headers alone.
                    List<ByteBuf> head = first.hasValue() ? Objects.requireNonNull(first.get()) : List.of();
                    byte[] look = copyHead(head, AnswerClassifier.BODY_LOOK_BYTES);
                    FailoverPolicy.Verdict verdict = FailoverPolicy.judge(task.retryOn(), status,
                            upstreamHeaders::get, look, look.length, model, now);
                    Flux<ByteBuf> rest = first.isOnError()
                            ? Flux.error(Objects.requireNonNull(first.getThrowable()))
                            : batches.concatMapIterable(batch -> batch);
                    return answer(status, upstreamHeaders, verdict, rest, connection);
                })
                .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease);
    }

    /** A copy of the first {@code limit} readable bytes of {@code chunks}, leaving their indexes alone. */
    private static byte[] copyHead(List<ByteBuf> chunks, int limit) {
        int total = 0;
        for (ByteBuf chunk : chunks) {
            total += chunk.readableBytes();
        }
        byte[] out = new byte[Math.min(total, limit)];
        int at = 0;
        for (ByteBuf chunk : chunks) {
            int n = Math.min(chunk.readableBytes(), out.length - at);
            if (n <= 0) {
                break;
            }
            chunk.getBytes(chunk.readerIndex(), out, at, n);
            at += n;
        }
        return out;
    }

    /**
     * The rest of the attempt once the answer's meaning is known: a refused answer is drained and
     * retried; any other streams back from {@code inbound} (retained chunks, from the first).
     */
    private Mono<Result> answer(int status, HttpHeaders upstreamHeaders, FailoverPolicy.Verdict verdict,
            Flux<ByteBuf> inbound, Connection connection) {
        if (verdict.retry()) {
            return refused(status, verdict, connection, inbound);
        }
        UsageTap usageTap = UsageTap.of(upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE),
                upstreamHeaders.get(HttpHeaderNames.CONTENT_ENCODING), injectedUsage);
        this.tap = usageTap;
        Flux<ByteBuf> content = inbound
                // The answer is in whole: the connection goes back to the pool, the timer must not outlive that.
                .doOnComplete(this::stopTimer);
        return content.switchOnFirst((first, rest) -> {
                    if (first.isOnError()) {
                        // Nothing reached the client: this fails over like a connect failure.
                        return Mono.<Result>error(Objects.requireNonNull(first.getThrowable()));
                    }
                    // The first chunk (or the empty end) is in: from now on the idle timeout applies.
                    timeoutAfter(connection.channel(), task.timeouts().idle());
                    if (ProxyPipeline.nobodyToAnswer(ex)) {
                        // Nobody to answer: stop here (the held chunk is released as discarded).
                        settle(new Outcome.Cancelled());
                        ex.status = CLIENT_CLOSED_REQUEST;
                        return Mono.just(DELIVERED);
                    }
                    accounting.upstreamHeaders(ex, started);
                    committed = true;
                    return streamBack(status, upstreamHeaders, rest, usageTap, verdict)
                            .then(Mono.fromSupplier(() -> {
                                if (!whole) {
                                    // The write ended before the upstream did: the client went away.
                                    settle(new Outcome.Cancelled());
                                }
                                return DELIVERED;
                            }));
                })
                .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease)
                .doFinally(signal -> usageTap.close())
                .singleOrEmpty();
    }

    /** A status the task retries: settle, then drain the refused answer so the connection goes back to the pool. */
    private Mono<Result> refused(int status, FailoverPolicy.Verdict verdict, Connection connection,
            Flux<ByteBuf> inbound) {
        accounting.upstreamHeaders(ex, started);
        accounting.upstreamLatency(ex, lease, time.nanoTime() - started);
        Outcome outcome = verdict.outcome();
        settle(outcome != null ? outcome : new Outcome.Answered(status, 0, 0, false, time.nanoTime() - started));
        Failure failure = statusFailure(status, verdict);
        Result retry = new Result.Retry(failure);
        // An error body that stalls only costs that connection (the idle timer closes it); the retry goes on.
        timeoutAfter(connection.channel(), task.timeouts().idle());
        // Each retained chunk is released here and turned into a flag, so no discard hook releases it twice.
        return inbound.map(ReferenceCountUtil::release)
                .doOnComplete(this::stopTimer)
                .then(Mono.just(retry))
                .onErrorReturn(retry);
    }

    /** Settles an answer the upstream has sent whole, with its usage. */
    private void delivered(int status, FailoverPolicy.Verdict verdict, UsageTap usageTap) {
        whole = true;
        Outcome passedThrough = verdict.outcome();
        if (passedThrough != null) {
            // A 429 or 5xx the task does not retry still tells the broker about the key.
            settle(passedThrough);
            return;
        }
        TokenUsage usage = usageTap.usage();
        boolean known = usage.isComplete();
        long prompt = known ? Objects.requireNonNull(usage.promptTokens()) : 0;
        long completion = known ? Objects.requireNonNull(usage.completionTokens()) : 0;
        if (known) {
            accounting.usage(ex, lease, prompt, completion);
        }
        long latency = time.nanoTime() - started;
        accounting.upstreamLatency(ex, lease, latency);
        settle(new Outcome.Answered(status, prompt, completion, known, latency));
    }

    /**
     * Streams the upstream answer to the client as it arrives, chunk by chunk, without copying. If
     * the upstream breaks mid-answer (idle timeout, reset), an SSE stream ends with a {@code data:}
     * event holding the error; any other body is cut off by closing the connection. Either way the
     * returned Mono then fails with the cause, so the lease is settled with it. The lease is settled
     * once the upstream has sent everything, before the last bytes reach the client.
     */
    private Mono<Void> streamBack(int status, HttpHeaders upstreamHeaders, Flux<ByteBuf> content, UsageTap usageTap,
            FailoverPolicy.Verdict verdict) {
        HttpServerResponse response = ex.response;
        response.status(HttpResponseStatus.valueOf(status));
        io.keymux.server.upstream.HeaderRewrite.towardsClient(upstreamHeaders, response.responseHeaders());
        pipeline.addKeymuxHeaders(ex);
        ex.status = status;
        ex.firstByteNanos = time.nanoTime();
        boolean sse = SseUsageScanner.isEventStream(upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE));
        if (usageTap.changesLength()) {
            // The usage-only chunk keymux asked for is taken out, so the upstream's length no longer holds.
            response.responseHeaders().remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        Throwable[] broken = {null};
        // Each chunk is already retained; the tap hands back the reference the write releases.
        Flux<ByteBuf> body = content.map(usageTap::feed)
                .concatWith(Mono.fromSupplier(usageTap::finish))
                .doOnComplete(() -> delivered(status, verdict, usageTap))
                .filter(chunk -> {
                    if (chunk.isReadable()) {
                        return true;
                    }
                    chunk.release();
                    return false;
                })
                .onErrorResume(error -> {
                    broken[0] = error;
                    // The connection closes once the answer ends, so nothing can follow the broken stream.
                    response.keepAlive(false);
                    if (!sse) {
                        return Flux.error(error);
                    }
                    String event = "data: " + brokenError(error).bodyString() + "\n\n";
                    return Flux.just(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8)));
                })
                .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease);
        // Flush per chunk so SSE events go out at once. (Reactor Netty flushes the head on its own here;
        // send(Mono) would write head and body as one full response, but it left keep-alive connections
        // hanging on their next request in the benchmark, so it is not used.)
        // A request others wait for (coalescing) sends its answer through its flight (FlightRelay).
        Flight flight = ex.flight;
        Mono<Void> sent = flight == null ? response.send(body, buf -> true).then()
                : FlightRelay.through(flight, status, String.valueOf(upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE)),
                        sse, body, relayed -> response.send(relayed, buf -> true).then(), () -> broken[0] == null,
                        () -> ex.costUsd);
        return sent.then(Mono.defer(() -> {
            Throwable error = broken[0];
            return error == null ? Mono.<Void>empty() : Mono.<Void>error(error);
        }));
    }

    private KeymuxError brokenError(Throwable error) {
        return FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream stopped sending for longer than tasks[].timeouts.idle"
                        + " on task '" + task.name() + "'")
                : KeymuxError.upstreamUnavailable("the upstream connection broke mid-answer on task '"
                        + task.name() + "'");
    }

    /** What the client gets if this refused status was the last attempt. */
    private Failure statusFailure(int status, FailoverPolicy.Verdict verdict) {
        if (status == 401 || status == 403) {
            return new Failure(KeymuxError.upstreamUnavailable("the upstream refused the key of task '" + task.name()
                    + "' (" + status + ") and no other key could answer; check the keys in the config"),
                    verdict.reason());
        }
        if (verdict.outcome() instanceof Outcome.QuotaExhausted) {
            return new Failure(KeymuxError.allKeysExhausted("the upstream says the key tried for task '" + task.name()
                    + "' is out of quota (" + status + ") and no other key could answer; top up the provider account",
                    task.health().quotaProbe()), verdict.reason());
        }
        if (verdict.outcome() instanceof Outcome.Overloaded overloaded) {
            Duration retryAfter = task.health().overloadBackoff();
            if (overloaded.retryAfter() != null && overloaded.retryAfter().compareTo(retryAfter) > 0) {
                retryAfter = overloaded.retryAfter();
            }
            return new Failure(KeymuxError.upstreamOverloaded("the upstream of task '" + task.name() + "' says it is"
                    + " overloaded (" + status + ") and no key of another upstream could answer; retry after the"
                    + " Retry-After delay", retryAfter), verdict.reason());
        }
        if (verdict.outcome() instanceof Outcome.RateLimited limited) {
            Duration retryAfter = limited.retryAfter() != null ? limited.retryAfter() : task.health().rateLimitCooldown();
            return new Failure(KeymuxError.allKeysExhausted("every key tried for task '" + task.name()
                    + "' is rate limited by the upstream (429); retry after the Retry-After delay", retryAfter),
                    verdict.reason());
        }
        return new Failure(KeymuxError.upstreamUnavailable(
                "the upstream answered " + status + " on every attempt for task '" + task.name() + "'"),
                verdict.reason());
    }

    /** Connect failures and timeouts: retried before the first byte, otherwise the stream is ended. */
    private Mono<Result> failed(Throwable error) {
        if (ProxyPipeline.nobodyToAnswer(ex)) {
            // The client hung up, and the upstream exchange broke because of that: not the key's fault,
            // so no failure towards its circuit, and nobody left to retry for.
            settle(new Outcome.Cancelled());
            if (ex.status == 0) {
                ex.status = CLIENT_CLOSED_REQUEST;
            }
            return Mono.just(DELIVERED);
        }
        if (!FailoverPolicy.isTransportFailure(error)) {
            // keymux's own failure, not the key's: refund and leave the key's health alone.
            settle(new Outcome.Cancelled());
            return Mono.error(error);
        }
        settle(FailoverPolicy.transportOutcome(error));
        KeymuxError keymuxError = FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream did not answer in time for task '" + task.name()
                        + "' (tasks[].timeouts)")
                : KeymuxError.upstreamUnavailable("could not reach the upstream for task '" + task.name() + "'");
        if (committed || ex.response.hasSentHeaders()) {
            return ProxyPipeline.brokenStream(ex).then(Mono.just(DELIVERED));
        }
        if (!FailoverPolicy.retriesTransport(task.retryOn(), error)) {
            return pipeline.fail(ex, keymuxError).then(Mono.just(DELIVERED));
        }
        return Mono.just(new Result.Retry(new Failure(keymuxError, FailoverPolicy.transportReason(error))));
    }

    // ---- The timeout: one timer task on the upstream connection's event loop ----------------------

    /** From now, the upstream has {@code timeout} to send something. */
    private void timeoutAfter(Channel channel, Duration timeout) {
        if (timerStopped) {
            return;
        }
        upstream = channel;
        long nanos = Math.max(1, timeout.toNanos());
        long now = System.nanoTime();
        deadline = now + nanos;
        if (timer == null || timerAt - deadline > 0) {
            // No timer yet, or it would fire too late: (re)schedule. Otherwise it re-arms itself.
            if (timer != null) {
                timer.cancel(false);
            }
            timerAt = deadline;
            timer = channel.eventLoop().schedule(this::expire, nanos, TimeUnit.NANOSECONDS);
        }
    }

    private void expire() {
        timer = null;
        Channel channel = upstream;
        if (timerStopped || channel == null) {
            return;
        }
        long left = deadline - System.nanoTime();
        if (left > 0) {
            timerAt = deadline;
            timer = channel.eventLoop().schedule(this::expire, left, TimeUnit.NANOSECONDS);
            return;
        }
        // As Netty's ReadTimeoutHandler does: the inbound fails with ReadTimeoutException, then the
        // connection closes (it never goes back to the pool).
        channel.pipeline().fireExceptionCaught(ReadTimeoutException.INSTANCE);
        channel.close();
    }

    private void stopTimer() {
        timerStopped = true;
        ScheduledFuture<?> pending = timer;
        if (pending != null) {
            pending.cancel(false);
            timer = null;
        }
    }
}
