package io.keymux.server.pipeline;

import io.keymux.config.model.TaskConfig;
import io.keymux.core.cache.Flight;
import io.keymux.core.health.AnswerClassifier;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Lease;
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
import java.nio.charset.StandardCharsets;
import java.util.Objects;
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
 * CONNECTING → WAITING_HEAD → LOOKING ─┬→ STREAMING → DONE   (committed: the client gets the answer)
 *                                      └→ DONE                (refused: Retry at once, the body drained behind it)
 * </pre>
 *
 * This class is the state machine; what it must do exactly once or on time lives beside it:
 *
 * <ul>
 *   <li><b>the first-byte commit</b>: nothing reaches the client before the answer's first body
 *   byte (or its empty end); until then ({@code LOOKING}) a refused status, a stall or a broken
 *   connection is a {@link Result.Retry} and fails over invisibly; after it there is no retry. A
 *   429 or 503 is judged on its first {@link AnswerClassifier#BODY_LOOK_BYTES} (rate limit or
 *   quota; overloaded or not), held meanwhile in {@link HeldChunks};</li>
 *   <li><b>settling</b>: answer-complete, refusal, failure, hang-up and cancel are reported to the
 *   {@link AttemptSettlement}, which settles the lease with the first and holds the usage tap the
 *   answer goes through;</li>
 *   <li><b>the timeouts</b>: one {@link AnswerTimeout}, {@code first_byte} then {@code idle}, not
 *   running while reading is paused for a slow client;</li>
 *   <li><b>back-pressure</b>: when the client's side stops asking for chunks the upstream connection
 *   stops reading, and reads again when asked;</li>
 *   <li><b>a refused answer's body</b> is read to its end in the background by a {@link
 *   RefusedBodyDrain}, so its connection can go back to the pool while the retry runs.</li>
 * </ul>
 *
 * <p>An exchange and its upstream connection share one event loop ({@link
 * io.keymux.server.upstream.UpstreamClients}), so the fields below are plain.
 */
final class UpstreamAttempt implements UpstreamConnection.Answer {
    /** Audit status of a request whose client went away before an answer started (nginx's 499). */
    static final int CLIENT_CLOSED_REQUEST = 499;
    /**
     * A non-streaming answer declaring at most this many bytes is held until whole and goes to the
     * client as one message: head and body in one write (nginx's {@code proxy_buffer_size} is 4-8 KiB;
     * a chat completion is 1-10 KiB).
     */
    static final int WHOLE_ANSWER_BYTES = 64 * 1024;

    /** How an attempt ended: the exchange is answered (possibly broken mid-stream), or retry with another key. */
    sealed interface Result {
        /** The client got its answer (or an error, or went away): the attempt loop stops. */
        record Delivered() implements Result {}

        /** Nothing reached the client; another key may try. */
        record Retry(AttemptFailure failure) implements Result {}
    }

    private static final Result DELIVERED = new Result.Delivered();
    /** Not a result the attempt loop sees (compared by identity): the answer is good, stream it. */
    private static final Result STREAM = new Result.Delivered();

    /** Where the answer is (see the class comment). */
    private enum Phase {
        /** Getting a pooled or new connection (again, once, after a stale pooled one). */
        CONNECTING,
        /** The request is sent; the answer's head has not come. */
        WAITING_HEAD,
        /** The head is in; the start of the body is held until the answer is judged. */
        LOOKING,
        /** Committed: the answer goes to the client as it comes. */
        STREAMING,
        /**
         * Nothing more of the upstream's answer is this attempt's: it is in, broke, was refused (and
         * handed to a drain), or the client left.
         */
        DONE
    }

    /**
     * The answer's head, as far as it could be judged when it arrived.
     *
     * @param known the verdict when the status and headers alone tell, else {@code null}: judged on the look
     * @param lookBytes body bytes held before the answer is judged: the 429/503 look, all of a small
     *     answer ({@link #wholeAnswerBytes}), or the first byte
     */
    private record AnswerHead(int status, HttpHeaders headers, FailoverPolicy.@Nullable Verdict known,
            int lookBytes) {
        boolean eventStream() {
            return SseUsageScanner.isEventStream(headers.get(HttpHeaderNames.CONTENT_TYPE));
        }
    }

    private final ProxyPipeline pipeline;
    private final RequestAccounting accounting;
    private final TimeSource time;
    private final Exchange ex;
    private final TaskConfig task;
    private final UpstreamPool pool;
    private final boolean injectedUsage;
    /** The request's {@code model}, so a 429 naming it is told from one for the whole key. */
    private final @Nullable String model;
    private final long started;
    /** Where the lease is settled, once, from what this attempt reports. */
    private final AttemptSettlement settlement;
    private final AnswerTimeout timeout;
    /** Chunks held while looking, or until the client's body subscription starts. */
    private final HeldChunks held = new HeldChunks();

    private Phase phase = Phase.CONNECTING;
    /** Until the answer's meaning is known: then it gets the Retry, the Delivered, or "stream it". */
    private @Nullable MonoSink<Result> decided;
    private @Nullable UpstreamConnection connection;
    /** Sends the request again on a new connection; {@code null} once used (one resend per attempt). */
    private @Nullable Runnable resend;
    private @Nullable AnswerHead answerHead;
    /** The upstream sent its last content while chunks were held (or nothing more will come). */
    private boolean ended;
    /** The client's body, once subscribed. */
    private @Nullable FluxSink<ByteBuf> body;
    /** The upstream broke after the commit; the exchange then ends with this cause. */
    private @Nullable Throwable broken;

    UpstreamAttempt(ProxyPipeline pipeline, RequestAccounting accounting, TimeSource time, Exchange ex,
            TaskConfig task, UpstreamPool pool, Lease lease, boolean injectedUsage, @Nullable String model,
            @Nullable UsageEstimate estimate) {
        this.pipeline = pipeline;
        this.accounting = accounting;
        this.time = time;
        this.ex = ex;
        this.task = task;
        this.pool = pool;
        this.injectedUsage = injectedUsage;
        this.model = model;
        this.started = time.nanoTime();
        this.settlement = new AttemptSettlement(lease, accounting.ofAttempt(ex, lease), time, started, estimate);
        // The pool's loop is its connections' loop, so the timer fires where the answer arrives.
        this.timeout = new AnswerTimeout(pool.loop(), task.timeouts().idle(), this::timedOut);
    }

    /** Sends the request (head and body in one write) on a connection of the pool and handles the answer. */
    Mono<Result> run(UpstreamTarget target, HttpHeaders headers, byte[] requestBody) {
        return Mono.<Result>create(sink -> {
                    decided = sink;
                    sink.onCancel(this::cancelledBeforeCommit);
                    EventLoop loop = pool.loop();
                    if (loop.inEventLoop()) {
                        connect(target, headers, requestBody);
                    } else {
                        loop.execute(() -> connect(target, headers, requestBody));
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
                .doFinally(signal -> timeout.stop());
    }

    // ---- Before the answer's meaning is known ------------------------------------------------------

    private void connect(UpstreamTarget target, HttpHeaders headers, byte[] requestBody) {
        if (phase == Phase.DONE) {
            return; // the client left before the loop got here
        }
        resend = () -> {
            phase = Phase.CONNECTING;
            connection = null;
            acquire(target, headers, requestBody, true);
        };
        acquire(target, headers, requestBody, false);
    }

    private void acquire(UpstreamTarget target, HttpHeaders headers, byte[] requestBody, boolean fresh) {
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
        if (phase == Phase.DONE) {
            c.release(); // the client left while it connected: unused, back to the pool
            return;
        }
        connection = c;
        phase = Phase.WAITING_HEAD;
        timeout.after(task.timeouts().firstByte());
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
        timeout.after(task.timeouts().firstByte());
        int status = head.status().code();
        HttpHeaders headers = head.headers();
        long now = time.currentTimeMillis();
        settlement.observe(ProviderLimits.parse(headers::get, now));
        phase = Phase.LOOKING;
        FailoverPolicy.Verdict known;
        int lookBytes;
        if (ex.searching && ObjectSearch.mayMeanNotHere(status)) {
            // An object searched for on this key: a 404 says "not here", a 400 may (affinity).
            known = status == 404 ? ObjectSearch.NOT_HERE : null;
            lookBytes = AnswerClassifier.BODY_LOOK_BYTES;
        } else if (AnswerClassifier.wantsBody(status)) {
            known = null;
            lookBytes = AnswerClassifier.BODY_LOOK_BYTES;
        } else {
            known = FailoverPolicy.judge(task.retryOn(), status, headers::get, now);
            lookBytes = known.retry() ? 0 : wholeAnswerBytes(head);
        }
        answerHead = new AnswerHead(status, headers, known, lookBytes);
        if (known != null && known.retry()) {
            refused(known);
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
        timeout.chunkArrived();
        if (last) {
            // The connection is back in its pool: nothing of this attempt may touch it any more.
            timeout.stop();
        }
        switch (phase) {
            case LOOKING -> {
                hold(content, last);
                if (held.bytes() >= head().lookBytes() || last) {
                    judged(judgement());
                }
            }
            case STREAMING -> {
                FluxSink<ByteBuf> sink = body;
                if (sink == null) {
                    hold(content, last);
                } else {
                    push(sink, content);
                    if (last) {
                        finishBody(sink);
                    } else if (sink.requestedFromDownstream() <= 0) {
                        // The client is slow: stop reading, and stop the idle clock with it.
                        timeout.pause();
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
                if (error instanceof UpstreamConnection.StaleConnectionException && again != null) {
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
                held.releaseAll();
                if (judgement.retry()) {
                    ended = true;
                    refused(judgement);
                } else {
                    decideError(error);
                }
            }
            case STREAMING -> brokeMidAnswer(error);
            default -> { }
        }
    }

    /** The upstream's time is up: as Netty's ReadTimeoutHandler does, the exchange fails and the connection closes. */
    private void timedOut() {
        UpstreamConnection c = connection;
        if (c != null) {
            c.abort(this, ReadTimeoutException.INSTANCE);
        }
    }

    private void hold(ByteBuf content, boolean last) {
        held.add(content);
        ended |= last;
    }

    private AnswerHead head() {
        return Objects.requireNonNull(answerHead, "the answer's head has not arrived");
    }

    /** The verdict on the answer: known at the head, or judged on the look held so far. */
    private FailoverPolicy.Verdict judgement() {
        AnswerHead h = head();
        FailoverPolicy.Verdict known = h.known();
        if (known != null) {
            return known;
        }
        byte[] look = held.copyHead(AnswerClassifier.BODY_LOOK_BYTES);
        if (ex.searching && ObjectSearch.saysNotHere(h.status(), look)) {
            return ObjectSearch.NOT_HERE;
        }
        return FailoverPolicy.judge(task.retryOn(), h.status(), h.headers()::get, look, look.length, model,
                time.currentTimeMillis());
    }

    /** The answer's meaning is known: refuse it (retry), or commit and stream it. */
    private void judged(FailoverPolicy.Verdict judgement) {
        if (judgement.retry()) {
            held.releaseAll();
            refused(judgement);
            return;
        }
        // The first byte (or the empty end) is in: from now on the idle timeout applies.
        timeout.after(task.timeouts().idle());
        if (ProxyPipeline.nobodyToAnswer(ex)) {
            // Nobody to answer: stop here.
            held.releaseAll();
            settlement.cancelled();
            ex.status = CLIENT_CLOSED_REQUEST;
            phase = Phase.DONE;
            closeUnlessWhole();
            decide(DELIVERED);
            return;
        }
        AnswerHead h = head();
        UsageTap tap = UsageTap.of(h.headers().get(HttpHeaderNames.CONTENT_TYPE),
                h.headers().get(HttpHeaderNames.CONTENT_ENCODING), injectedUsage);
        settlement.committed(h.status(), judgement, tap.watchedBy(ex.answerWatch, h.status()));
        accounting.upstreamHeaders(ex, started);
        phase = Phase.STREAMING;
        decide(STREAM);
    }

    /** A status the task retries: settle, retry at once, and drain the refused body so its connection can be reused. */
    private void refused(FailoverPolicy.Verdict judgement) {
        int status = head().status();
        accounting.upstreamHeaders(ex, started);
        settlement.refused(status, judgement);
        Result retry = new Result.Retry(AttemptFailure.refused(task, status, judgement));
        phase = Phase.DONE;
        if (ended) {
            timeout.stop();
        } else {
            // The verdict is known before the body's end: the rest is read behind the retry, and a
            // body that stalls or keeps coming only costs its connection.
            RefusedBodyDrain.start(Objects.requireNonNull(connection, "connection"), this, task.timeouts().idle());
        }
        decide(retry);
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
        decided = null;
        settlement.cancelled();
        held.releaseAll();
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
        AnswerHead h = head();
        response.status(HttpResponseStatus.valueOf(h.status()));
        HeaderRewrite.towardsClient(h.headers(), response.responseHeaders());
        pipeline.addKeymuxHeaders(ex);
        ex.status = h.status();
        ex.firstByteNanos = time.nanoTime();
        boolean sse = h.eventStream();
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
                : FlightRelay.through(flight, h.status(), String.valueOf(h.headers().get(HttpHeaderNames.CONTENT_TYPE)),
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
                timeout.resume();
                c.resume(this);
            }
        });
        sink.onDispose(this::bodyDisposed);
        ByteBuf chunk;
        while ((chunk = held.poll()) != null) {
            push(sink, chunk);
        }
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
        timeout.stop();
        settlement.answered();
        phase = Phase.DONE;
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
        held.releaseAll();
        if (!head().eventStream()) {
            sink.error(error);
            return;
        }
        String event = "data: " + AttemptFailure.brokenMidAnswer(task, error).bodyString() + "\n\n";
        sink.next(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8)));
        sink.complete();
    }

    /** The body subscription ended: unless this attempt ended it (phase DONE), the client went away mid-answer. */
    private void bodyDisposed() {
        body = null;
        held.releaseAll();
        if (phase == Phase.DONE) {
            return;
        }
        phase = Phase.DONE;
        settlement.hungUp();
        closeUnlessWhole();
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
        AttemptFailure failure = AttemptFailure.unreachable(task, error);
        if (settlement.committed() || ex.response.hasSentHeaders()) {
            return ProxyPipeline.brokenStream(ex).then(Mono.just(DELIVERED));
        }
        if (!FailoverPolicy.retriesTransport(task.retryOn(), error)) {
            return pipeline.fail(ex, failure.error()).then(Mono.just(DELIVERED));
        }
        return Mono.just(new Result.Retry(failure));
    }
}
