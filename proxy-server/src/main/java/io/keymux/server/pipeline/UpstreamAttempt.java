package io.keymux.server.pipeline;

import io.keymux.config.model.TaskConfig;
import io.keymux.core.cache.Flight;
import io.keymux.core.health.AnswerClassifier;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.time.TimeSource;
import io.keymux.server.cache.FlightRelay;
import io.keymux.server.upstream.HeaderRewrite;
import io.keymux.server.upstream.UpstreamConnection;
import io.keymux.server.upstream.UpstreamPool;
import io.keymux.server.upstream.UpstreamTarget;
import io.keymux.server.wire.SseUsageScanner;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.netty.http.server.HttpServerResponse;

/**
 * One upstream attempt of an exchange, with one key: send, then either stream the answer back or
 * report a retryable failure, as a {@link Result} value. It is the {@link UpstreamConnection.Answer}
 * of its connection, so the answer arrives as plain calls on the exchange's event loop, in phases:
 *
 * <pre>
 * CONNECTING → WAITING_HEAD → LOOKING ─┬→ STREAMING → DONE   (the client gets the answer)
 *                                      └→ DRAINING  → DONE   (refused: Retry at once, body drained behind it)
 * </pre>
 *
 * It owns what an attempt must do exactly once or in order:
 *
 * <ul>
 *   <li><b>settle once</b>: it reports answer-complete, refusal, failure, hang-up and cancel to its
 *   {@link AttemptSettlement}, which settles the lease with the first;</li>
 *   <li><b>the first-byte commit</b>: nothing reaches the client before the answer's first body
 *   byte (or its empty end); until then ({@code LOOKING}) a refused status, a stall or a broken
 *   connection is a {@link Result.Retry} and fails over invisibly; after it ({@link
 *   AttemptSettlement#committed})
 *   there is no retry. A 429 or 503 is judged on its first {@link AnswerClassifier#BODY_LOOK_BYTES}
 *   (rate limit or quota; overloaded or not);</li>
 *   <li><b>the usage tap</b> (held by the settlement), which reads usage from the answer on its way
 *   through;</li>
 *   <li><b>the timeouts</b>: one timer on the loop, armed for {@code first_byte} when the request
 *   is sent and again when the headers arrive, then {@code idle} between chunks (a chunk only moves
 *   the deadline; while reading is paused for a slow client it does not run, and starts afresh on
 *   resume);</li>
 *   <li><b>back-pressure</b>: when the client's side stops asking for chunks the upstream connection
 *   stops reading, and reads again when asked.</li>
 * </ul>
 *
 * <p>An exchange and its upstream connection share one event loop ({@link
 * io.keymux.server.upstream.UpstreamClients}), so the fields below are plain.
 */
final class UpstreamAttempt implements UpstreamConnection.Answer {
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
    /** Not a result the attempt loop sees (compared by identity): the answer is good, stream it. */
    private static final Result STREAM = new Result.Delivered();

    /** Where the answer is (see the class comment). */
    private enum Phase { CONNECTING, WAITING_HEAD, LOOKING, DRAINING, STREAMING, DONE }

    private final ProxyPipeline pipeline;
    private final RequestAccounting accounting;
    private final TimeSource time;
    private final Exchange ex;
    private final TaskConfig task;
    /** Where the lease is settled, once, from what this attempt reports. */
    private final AttemptSettlement settlement;
    private final boolean injectedUsage;
    /** The request's {@code model}, so a 429 naming it is told from one for the whole key. */
    private final @Nullable String model;
    private final long started;

    private Phase phase = Phase.CONNECTING;
    /** Until the answer's meaning is known: then it gets the Retry, the Delivered, or "stream it". */
    private @Nullable MonoSink<Result> decided;
    private @Nullable UpstreamConnection connection;
    /** Sends the request again on a new connection; {@code null} once used (one resend per attempt). */
    private @Nullable Runnable resend;
    /** The client left before the answer's meaning was known. */
    private boolean cancelled;
    /**
     * A non-streaming answer declaring at most this many bytes is held until whole and goes to the
     * client as one message: head and body in one write (nginx's {@code proxy_buffer_size} is 4-8 KiB;
     * a chat completion is 1-10 KiB).
     */
    static final int WHOLE_ANSWER_BYTES = 64 * 1024;

    // The answer as it comes in.
    private int status;
    private @Nullable HttpHeaders upstreamHeaders;
    /** The verdict on a status that needs no body look, known at the head. */
    private FailoverPolicy.@Nullable Verdict verdict;
    /** Body bytes needed before the answer is judged: 1 (the first byte), or the 429/503 look. */
    private int lookBytes;
    /** Chunks held while looking, or until the client's body subscription starts. */
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>(2);
    private int heldBytes;
    /** The upstream sent its last content while chunks were held. */
    private boolean ended;
    private @Nullable Result retry;
    /** The client's body, once subscribed. */
    private @Nullable FluxSink<ByteBuf> body;
    /** The body was completed or failed by this attempt (so its disposal is not a hang-up). */
    private boolean bodyEnded;
    /** The upstream broke after the commit; the exchange then ends with this cause. */
    private @Nullable Throwable broken;

    // The timeout: one scheduled task on the loop; chunks only move the deadline.
    private @Nullable ScheduledFuture<?> timer;
    private long timerAt;
    private long deadline;
    private final long idleNanos;
    private boolean timerStopped;
    /**
     * Reading from the upstream is paused because the client is slow: the upstream's silence is
     * then keymux's doing, so the idle timeout does not run (it starts afresh on resume).
     */
    private boolean paused;
    /** Closes the connection of a refused answer whose body does not end within one idle timeout. */
    private @Nullable ScheduledFuture<?> drainGuard;
    /** Bytes of a refused answer's body read in the background. */
    private long drainedBytes;

    UpstreamAttempt(ProxyPipeline pipeline, RequestAccounting accounting, TimeSource time, Exchange ex,
            TaskConfig task, Lease lease, boolean injectedUsage, @Nullable String model,
            @Nullable UsageEstimate estimate) {
        this.pipeline = pipeline;
        this.accounting = accounting;
        this.time = time;
        this.ex = ex;
        this.task = task;
        this.injectedUsage = injectedUsage;
        this.model = model;
        this.started = time.nanoTime();
        this.settlement = new AttemptSettlement(lease, accounting.ofAttempt(ex, lease), time, started, estimate);
        this.idleNanos = Math.max(1, task.timeouts().idle().toNanos());
    }

    /** Sends the request (head and body in one write) on a connection of {@code pool} and handles the answer. */
    Mono<Result> run(UpstreamPool pool, UpstreamTarget target, HttpHeaders headers, byte[] requestBody) {
        return Mono.<Result>create(sink -> {
                    decided = sink;
                    sink.onCancel(this::cancelledBeforeCommit);
                    EventLoop loop = pool.loop();
                    if (loop.inEventLoop()) {
                        connect(pool, target, headers, requestBody);
                    } else {
                        loop.execute(() -> connect(pool, target, headers, requestBody));
                    }
                })
                .flatMap(result -> result == STREAM ? streamBack() : Mono.just(result))
                .onErrorResume(error -> {
                    if (!settlement.committed()) {
                        accounting.upstreamHeaders(ex, started);
                    }
                    return afterFailure(error);
                })
                .doOnCancel(settlement::hungUp)
                .doFinally(signal -> stopTimer());
    }

    // ---- Before the answer's meaning is known ------------------------------------------------------

    private void connect(UpstreamPool pool, UpstreamTarget target, HttpHeaders headers, byte[] requestBody) {
        if (cancelled) {
            return;
        }
        resend = () -> {
            phase = Phase.CONNECTING;
            connection = null;
            acquire(pool, target, headers, requestBody, true);
        };
        acquire(pool, target, headers, requestBody, false);
    }

    private void acquire(UpstreamPool pool, UpstreamTarget target, HttpHeaders headers, byte[] requestBody,
            boolean fresh) {
        int connectMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, task.timeouts().connect().toMillis()));
        Future<UpstreamConnection> acquired = pool.acquire(target.origin(), connectMillis, fresh);
        if (acquired.isDone()) {
            connected(acquired, target, headers, requestBody);
        } else {
            acquired.addListener(done -> connected(acquired, target, headers, requestBody));
        }
    }

    private void connected(Future<UpstreamConnection> acquired, UpstreamTarget target, HttpHeaders headers,
            byte[] requestBody) {
        if (!acquired.isSuccess()) {
            decideError(acquired.cause());
            return;
        }
        UpstreamConnection c = acquired.getNow();
        if (cancelled) {
            c.release(); // unused: back to the pool
            return;
        }
        connection = c;
        phase = Phase.WAITING_HEAD;
        timeoutAfter(task.timeouts().firstByte());
        // A full request: the codec writes head and body in one flush.
        c.send(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, ex.request.method(), target.requestTarget(),
                requestBody.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(requestBody), headers,
                EmptyHttpHeaders.INSTANCE), this);
    }

    @Override
    public void head(HttpResponse head) {
        if (phase != Phase.WAITING_HEAD) {
            return;
        }
        // Headers are in; the first chunk gets its own first_byte budget.
        timeoutAfter(task.timeouts().firstByte());
        status = head.status().code();
        HttpHeaders headers = head.headers();
        upstreamHeaders = headers;
        long now = time.currentTimeMillis();
        settlement.observe(ProviderLimits.parse(headers::get, now));
        phase = Phase.LOOKING;
        if (ex.searching && ObjectSearch.mayMeanNotHere(status)) {
            // An object searched for on this key: a 404 says "not here", a 400 may (affinity).
            if (status == 404) {
                refused(ObjectSearch.NOT_HERE);
            } else {
                lookBytes = AnswerClassifier.BODY_LOOK_BYTES;
            }
            return;
        }
        if (AnswerClassifier.wantsBody(status)) {
            lookBytes = AnswerClassifier.BODY_LOOK_BYTES;
            return;
        }
        FailoverPolicy.Verdict known = FailoverPolicy.judge(task.retryOn(), status, headers::get, now);
        if (known.retry()) {
            refused(known);
        } else {
            verdict = known;
            lookBytes = wholeAnswerBytes(head);
        }
    }

    /**
     * How much of an answer whose meaning is known to hold before committing: all of a small,
     * non-streaming answer of declared length (so its head and body leave in one write, and a
     * break before its end can still fail over), else its first byte. The codec has already
     * refused a malformed {@code Content-Length}.
     */
    private static int wholeAnswerBytes(HttpResponse head) {
        if (SseUsageScanner.isEventStream(head.headers().get(HttpHeaderNames.CONTENT_TYPE))) {
            return 1;
        }
        long length = HttpUtil.getContentLength(head, -1L);
        return length > 0 && length <= WHOLE_ANSWER_BYTES ? (int) length : 1;
    }

    @Override
    public void content(ByteBuf content, boolean last) {
        deadline = System.nanoTime() + idleNanos;
        if (last) {
            // The connection is back in its pool: nothing of this attempt may touch it any more.
            stopTimer();
        }
        switch (phase) {
            case LOOKING -> {
                hold(content, last);
                if (heldBytes >= lookBytes || last) {
                    judged(judgement());
                }
            }
            case DRAINING -> drained(content, last);
            case STREAMING -> {
                FluxSink<ByteBuf> sink = body;
                if (sink == null) {
                    hold(content, last);
                } else {
                    push(sink, content);
                    if (last) {
                        finishBody(sink);
                    } else if (sink.requestedFromDownstream() <= 0) {
                        paused = true;
                        Objects.requireNonNull(connection, "connection").pause(this);
                    }
                }
            }
            default -> content.release();
        }
    }

    @Override
    public void failed(Throwable error) {
        switch (phase) {
            case CONNECTING, WAITING_HEAD -> {
                Runnable again = resend;
                if (error instanceof UpstreamConnection.StaleConnectionException && again != null && !cancelled) {
                    // Once, on a new connection, uncharged: the upstream closed an idle connection.
                    resend = null;
                    again.run();
                } else {
                    decideError(error);
                }
            }
            case LOOKING -> {
                // A 429/503 body that broke before the look is judged by its status, headers and what came.
                FailoverPolicy.Verdict judgement = judgement();
                releaseHeld();
                if (judgement.retry()) {
                    ended = true;
                    refused(judgement);
                } else {
                    decideError(error);
                }
            }
            case DRAINING -> {
                // A refused body that broke only costs its connection; the retry went on already.
                phase = Phase.DONE;
                ScheduledFuture<?> guard = drainGuard;
                if (guard != null) {
                    guard.cancel(false);
                }
            }
            case STREAMING -> brokeMidAnswer(error);
            default -> { }
        }
    }

    private void hold(ByteBuf content, boolean last) {
        if (content.isReadable()) {
            held.add(content);
            heldBytes += content.readableBytes();
        } else {
            content.release();
        }
        ended |= last;
    }

    private void releaseHeld() {
        ByteBuf chunk;
        while ((chunk = held.poll()) != null) {
            chunk.release();
        }
        heldBytes = 0;
    }

    /** The verdict on the answer: known at the head, or judged on the look held so far. */
    private FailoverPolicy.Verdict judgement() {
        FailoverPolicy.Verdict known = verdict;
        if (known != null) {
            return known;
        }
        HttpHeaders headers = Objects.requireNonNull(upstreamHeaders, "headers");
        byte[] look = copyHead(held, AnswerClassifier.BODY_LOOK_BYTES);
        if (ex.searching && ObjectSearch.saysNotHere(status, look)) {
            return ObjectSearch.NOT_HERE;
        }
        return FailoverPolicy.judge(task.retryOn(), status, headers::get, look, look.length, model,
                time.currentTimeMillis());
    }

    /** The answer's meaning is known: refuse it (retry), or commit and stream it. */
    private void judged(FailoverPolicy.Verdict judgement) {
        if (judgement.retry()) {
            releaseHeld();
            refused(judgement);
            return;
        }
        // The first byte (or the empty end) is in: from now on the idle timeout applies.
        timeoutAfter(task.timeouts().idle());
        if (ProxyPipeline.nobodyToAnswer(ex)) {
            // Nobody to answer: stop here.
            releaseHeld();
            settlement.cancelled();
            ex.status = CLIENT_CLOSED_REQUEST;
            phase = Phase.DONE;
            closeUnlessWhole();
            decide(DELIVERED);
            return;
        }
        HttpHeaders headers = Objects.requireNonNull(upstreamHeaders, "headers");
        settlement.committed(status, judgement, UsageTap.of(headers.get(HttpHeaderNames.CONTENT_TYPE),
                headers.get(HttpHeaderNames.CONTENT_ENCODING), injectedUsage).watchedBy(ex.answerWatch, status));
        accounting.upstreamHeaders(ex, started);
        phase = Phase.STREAMING;
        decide(STREAM);
    }

    /** A status the task retries: settle, then drain the refused answer so the connection goes back to the pool. */
    private void refused(FailoverPolicy.Verdict judgement) {
        accounting.upstreamHeaders(ex, started);
        settlement.refused(status, judgement);
        retry = new Result.Retry(statusFailure(status, judgement));
        if (ended) {
            stopTimer();
            phase = Phase.DONE;
            decide(retry);
            return;
        }
        // The verdict is known at the head: the retry goes now, and the rest of the refused body is
        // read in the background (so the connection can go back to its pool), up to DRAIN_BYTES and
        // one idle timeout; a body that stalls or keeps coming only costs that connection.
        phase = Phase.DRAINING;
        UpstreamConnection c = Objects.requireNonNull(connection, "connection");
        drainGuard = c.channel().eventLoop().schedule(this::stopDraining,
                Math.max(1, task.timeouts().idle().toNanos()), TimeUnit.NANOSECONDS);
        decide(retry);
    }

    /** The most of a refused answer's body read in the background before its connection is closed instead. */
    static final int DRAIN_BYTES = 64 * 1024;

    /** The refused body did not end in time or is too long: close its connection. */
    private void stopDraining() {
        drainGuard = null;
        if (phase == Phase.DRAINING) {
            phase = Phase.DONE;
            UpstreamConnection c = connection;
            if (c != null) {
                c.abandon(this);
            }
        }
    }

    private void drained(ByteBuf content, boolean last) {
        drainedBytes += content.readableBytes();
        content.release();
        if (last || drainedBytes > DRAIN_BYTES) {
            ScheduledFuture<?> guard = drainGuard;
            if (guard != null) {
                guard.cancel(false);
            }
            if (last) {
                phase = Phase.DONE; // the connection is back in its pool
            } else {
                stopDraining();
            }
        }
    }

    private void decide(Result result) {
        MonoSink<Result> sink = decided;
        decided = null;
        if (sink != null) {
            sink.success(result);
        }
    }

    private void decideError(Throwable error) {
        phase = Phase.DONE;
        MonoSink<Result> sink = decided;
        decided = null;
        if (sink != null) {
            sink.error(error);
        }
    }

    /** The client left before the answer's meaning was known: give up the upstream exchange. */
    private void cancelledBeforeCommit() {
        cancelled = true;
        decided = null;
        settlement.cancelled();
        releaseHeld();
        if (phase != Phase.DONE) {
            phase = Phase.DONE;
            closeUnlessWhole();
        }
    }

    /** A connection whose answer is not in whole cannot serve another request: close it. */
    private void closeUnlessWhole() {
        UpstreamConnection c = connection;
        if (c != null && !ended) {
            c.abandon(this);
        }
    }

    // ---- Streaming the answer back ------------------------------------------------------------------

    /**
     * Streams the upstream answer to the client as it arrives, chunk by chunk, without copying. If
     * the upstream breaks mid-answer (idle timeout, reset), an SSE stream ends with a {@code data:}
     * event holding the error; any other body is cut off by closing the connection. Either way the
     * returned Mono then fails with the cause, so the lease is settled with it. The lease is settled
     * once the upstream has sent everything, before the last bytes reach the client.
     */
    private Mono<Result> streamBack() {
        HttpServerResponse response = ex.response;
        HttpHeaders headers = Objects.requireNonNull(upstreamHeaders, "headers");
        response.status(HttpResponseStatus.valueOf(status));
        HeaderRewrite.towardsClient(headers, response.responseHeaders());
        pipeline.addKeymuxHeaders(ex);
        ex.status = status;
        ex.firstByteNanos = time.nanoTime();
        boolean sse = SseUsageScanner.isEventStream(headers.get(HttpHeaderNames.CONTENT_TYPE));
        if (settlement.relayChangesLength()) {
            // The usage-only chunk keymux asked for is taken out, so the upstream's length no longer holds.
            response.responseHeaders().remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        Flight flight = ex.flight;
        if (ended && !sse && flight == null) {
            // All of it is here (see wholeAnswerBytes): one message, head and body in one write.
            return response.send(Mono.just(wholeBody())).then()
                    .doFinally(signal -> settlement.closeTap())
                    .thenReturn(DELIVERED);
        }
        Flux<ByteBuf> answer = Flux.create(this::bodySubscribed, FluxSink.OverflowStrategy.BUFFER);
        // Flush per chunk so SSE events go out at once. A request others wait for (coalescing) sends
        // its answer through its flight (FlightRelay).
        Mono<Void> sent = flight == null ? response.send(answer, buf -> true).then()
                : FlightRelay.through(flight, status, String.valueOf(headers.get(HttpHeaderNames.CONTENT_TYPE)),
                        sse, answer, relayed -> response.send(relayed, buf -> true).then(), () -> broken == null,
                        () -> ex.costUsd);
        return sent.doFinally(signal -> settlement.closeTap()).then(Mono.defer(() -> {
            Throwable error = broken;
            if (error != null) {
                return Mono.error(error);
            }
            // Unless the upstream had sent it all (settled already): the write ended first, the client went away.
            settlement.hungUp();
            return Mono.just(DELIVERED);
        }));
    }

    /** The held answer, through the usage tap, as one buffer; settles the lease as delivered. */
    private ByteBuf wholeBody() {
        CompositeByteBuf whole = Unpooled.compositeBuffer(Math.max(2, held.size() + 1));
        ByteBuf chunk;
        while ((chunk = held.poll()) != null) {
            addReadable(whole, settlement.relay(chunk));
        }
        heldBytes = 0;
        addReadable(whole, settlement.relayEnd());
        answerEnded();
        return whole;
    }

    private static void addReadable(CompositeByteBuf whole, ByteBuf part) {
        if (part.isReadable()) {
            whole.addComponent(true, part);
        } else {
            part.release();
        }
    }

    /** The client's side subscribed to the body: hand over what was held, then chunks as they come. */
    private void bodySubscribed(FluxSink<ByteBuf> sink) {
        body = sink;
        sink.onRequest(n -> {
            UpstreamConnection c = connection;
            if (c != null) {
                if (paused) {
                    paused = false;
                    deadline = System.nanoTime() + idleNanos;
                }
                c.resume(this);
            }
        });
        sink.onDispose(this::bodyDisposed);
        ByteBuf chunk;
        while ((chunk = held.poll()) != null) {
            push(sink, chunk);
        }
        heldBytes = 0;
        Throwable error = broken;
        if (error != null) {
            breakBody(sink, error);
        } else if (ended) {
            finishBody(sink);
        }
    }

    /** One chunk through the usage tap to the client (the tap hands back the reference the write releases). */
    private void push(FluxSink<ByteBuf> sink, ByteBuf chunk) {
        ByteBuf out = settlement.relay(chunk);
        if (out.isReadable()) {
            sink.next(out);
        } else {
            out.release();
        }
    }

    /** The upstream sent everything: the timer stops, the lease settles, the body ends. */
    private void finishBody(FluxSink<ByteBuf> sink) {
        ByteBuf rest = settlement.relayEnd();
        if (rest.isReadable()) {
            sink.next(rest);
        } else {
            rest.release();
        }
        answerEnded();
        sink.complete();
    }

    /** The upstream's answer is all through the tap: stop the timer, settle the lease as delivered. */
    private void answerEnded() {
        stopTimer();
        settlement.answered();
        phase = Phase.DONE;
        bodyEnded = true;
    }

    private void brokeMidAnswer(Throwable error) {
        broken = error;
        phase = Phase.DONE;
        // The connection closes once the answer ends, so nothing can follow the broken stream.
        ex.response.keepAlive(false);
        FluxSink<ByteBuf> sink = body;
        if (sink != null) {
            breakBody(sink, error);
        } // else: bodySubscribed ends the body with it
    }

    private void breakBody(FluxSink<ByteBuf> sink, Throwable error) {
        releaseHeld();
        bodyEnded = true;
        HttpHeaders headers = Objects.requireNonNull(upstreamHeaders, "headers");
        if (!SseUsageScanner.isEventStream(headers.get(HttpHeaderNames.CONTENT_TYPE))) {
            sink.error(error);
            return;
        }
        String event = "data: " + brokenError(error).bodyString() + "\n\n";
        sink.next(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8)));
        sink.complete();
    }

    /** The body subscription ended: if not by this attempt, the client went away mid-answer. */
    private void bodyDisposed() {
        body = null;
        releaseHeld();
        if (bodyEnded) {
            return;
        }
        bodyEnded = true;
        phase = Phase.DONE;
        settlement.hungUp();
        closeUnlessWhole();
    }

    /** A copy of the first {@code limit} readable bytes of {@code chunks}, leaving their indexes alone. */
    private static byte[] copyHead(Iterable<ByteBuf> chunks, int limit) {
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
    private Mono<Result> afterFailure(Throwable error) {
        if (ProxyPipeline.nobodyToAnswer(ex)) {
            // The client hung up, and the upstream exchange broke because of that: not the key's fault,
            // so no failure towards its circuit, and nobody left to retry for.
            settlement.hungUp();
            if (ex.status == 0) {
                ex.status = CLIENT_CLOSED_REQUEST;
            }
            return Mono.just(DELIVERED);
        }
        if (!FailoverPolicy.isTransportFailure(error)) {
            // keymux's own failure, not the key's: refund and leave the key's health alone.
            settlement.cancelled();
            return Mono.error(error);
        }
        settlement.transportFailed(error);
        KeymuxError keymuxError = FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream did not answer in time for task '" + task.name()
                        + "' (tasks[].timeouts)")
                : KeymuxError.upstreamUnavailable("could not reach the upstream for task '" + task.name() + "'");
        if (settlement.committed() || ex.response.hasSentHeaders()) {
            return ProxyPipeline.brokenStream(ex).then(Mono.just(DELIVERED));
        }
        if (!FailoverPolicy.retriesTransport(task.retryOn(), error)) {
            return pipeline.fail(ex, keymuxError).then(Mono.just(DELIVERED));
        }
        return Mono.just(new Result.Retry(new Failure(keymuxError, FailoverPolicy.transportReason(error))));
    }

    // ---- The timeout: one timer task on the loop ---------------------------------------------------

    /** From now, the upstream has {@code timeout} to send something. */
    private void timeoutAfter(Duration timeout) {
        UpstreamConnection c = connection;
        if (timerStopped || c == null) {
            return;
        }
        long nanos = Math.max(1, timeout.toNanos());
        long now = System.nanoTime();
        deadline = now + nanos;
        if (timer == null || timerAt - deadline > 0) {
            // No timer yet, or it would fire too late: (re)schedule. Otherwise it re-arms itself.
            if (timer != null) {
                timer.cancel(false);
            }
            timerAt = deadline;
            timer = c.channel().eventLoop().schedule(this::expire, nanos, TimeUnit.NANOSECONDS);
        }
    }

    private void expire() {
        timer = null;
        UpstreamConnection c = connection;
        if (timerStopped || c == null) {
            return;
        }
        if (paused) {
            // The client is not reading, so neither is keymux: not the upstream's stall.
            deadline = System.nanoTime() + idleNanos;
        }
        long left = deadline - System.nanoTime();
        if (left > 0) {
            timerAt = deadline;
            timer = c.channel().eventLoop().schedule(this::expire, left, TimeUnit.NANOSECONDS);
            return;
        }
        // As Netty's ReadTimeoutHandler does: the exchange fails with ReadTimeoutException and the
        // connection closes (it never goes back to the pool).
        c.abort(this, ReadTimeoutException.INSTANCE);
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
