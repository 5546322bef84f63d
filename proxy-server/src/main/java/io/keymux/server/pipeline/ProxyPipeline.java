package io.keymux.server.pipeline;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import io.keymux.core.auth.AuthDecision;
import io.keymux.core.auth.ClientAuthenticator;
import io.keymux.core.classify.Classification;
import io.keymux.core.classify.RequestFacts;
import io.keymux.core.classify.TaskClassifier;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.core.time.TimeSource;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.upstream.HeaderRewrite;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.upstream.UpstreamClients;
import io.keymux.server.upstream.UpstreamTarget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.timeout.ReadTimeoutException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.NettyPipeline;
import reactor.netty.channel.AbortedException;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * The proxy's request path, top to bottom: {@link #authenticate}, {@link #readBody},
 * {@link #classify}, then the attempt loop of {@link #selectKey} → {@link #forward} (which injects
 * the key and streams the answer back), with failover before the first byte reaches the client.
 * Stateless apart from the configuration it was built for; one instance serves every request.
 */
public final class ProxyPipeline implements BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyPipeline.class);
    /** Marker header set by the request decoder when a request had both Content-Length and Transfer-Encoding. */
    public static final String SMUGGLING_MARKER = "x-keymux-internal-cl-te";
    /** JSON bodies up to this size are inspected on the event loop (well under a millisecond). */
    private static final int INLINE_PARSE_BYTES = 256 * 1024;
    /** Audit status of a request whose client went away before an answer started (nginx's 499). */
    private static final int CLIENT_CLOSED_REQUEST = 499;

    private final KeymuxConfig config;
    private final ClientAuthenticator authenticator;
    private final TaskClassifier classifier;
    private final KeyBroker broker;
    private final UpstreamClients upstreams;
    private final TimeSource time;
    private final InFlight inFlight;
    private final ProxyMetrics metrics;
    private final RequestAccounting accounting;

    /** Builds the pipeline for one configuration; {@code audit} gets one line per request. */
    public ProxyPipeline(KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams, TimeSource time,
            InFlight inFlight, ProxyMetrics metrics, AuditLog audit) {
        this.config = Objects.requireNonNull(config, "config");
        this.authenticator = ClientAuthenticator.of(config);
        this.classifier = TaskClassifier.of(config);
        this.broker = Objects.requireNonNull(broker, "broker");
        this.upstreams = Objects.requireNonNull(upstreams, "upstreams");
        this.time = Objects.requireNonNull(time, "time");
        this.inFlight = Objects.requireNonNull(inFlight, "inFlight");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.accounting = new RequestAccounting(metrics, Objects.requireNonNull(audit, "audit"), time);
    }

    @Override
    public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
        String requestId = request.requestHeaders().get("X-Request-Id");
        if (requestId == null || requestId.isBlank() || requestId.length() > 200) {
            requestId = newRequestId();
        }
        Exchange ex = new Exchange(request, response, requestId, time.nanoTime());
        ex.startMillis = time.currentTimeMillis();
        inFlight.enter();
        if (inFlight.draining()) {
            response.keepAlive(false);
        }
        return handle(ex)
                .onErrorResume(error -> unexpected(ex, error))
                .doOnCancel(() -> {
                    if (ex.status == 0) {
                        ex.status = CLIENT_CLOSED_REQUEST;
                    }
                })
                .doFinally(signal -> {
                    inFlight.exit();
                    accounting.finish(ex);
                });
    }

    /**
     * A random (version 4) UUID from {@link ThreadLocalRandom}: {@code UUID.randomUUID()} reads
     * {@code SecureRandom}, which may block on an event loop, and a request id need not be unguessable.
     */
    private static String newRequestId() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long most = (random.nextLong() & ~0xF000L) | 0x4000L;
        long least = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(most, least).toString();
    }

    private Mono<Void> handle(Exchange ex) {
        AuthDecision auth = authenticate(ex);
        if (auth instanceof AuthDecision.Refused refused) {
            return fail(ex, KeymuxError.invalidClientKey(refused.message()));
        }
        AuthDecision.Admitted admitted = (AuthDecision.Admitted) auth;
        ex.client = admitted.clientName();
        HttpHeaders headers = ex.requestHeaders();
        if (headers.contains(SMUGGLING_MARKER)) {
            return fail(ex, new KeymuxError(400, "bad_request",
                    "a request may not carry both Content-Length and Transfer-Encoding", null, true));
        }
        long declared = contentLength(headers);
        long limit = config.server().maxBodyBytes();
        if (declared > limit) {
            return fail(ex, bodyTooLarge(limit));
        }
        return readBody(ex, limit, declared).flatMap(body -> {
            if (body.tooLarge()) {
                return fail(ex, bodyTooLarge(limit));
            }
            byte[] bytes = body.bytes();
            return inspect(bytes, headers.get(HttpHeaderNames.CONTENT_TYPE))
                    .flatMap(facts -> route(ex, admitted, bytes, facts));
        });
    }

    /** Small bodies are read on the event loop; large ones on a CPU worker so the loop keeps moving. */
    private static Mono<BodyFacts> inspect(byte[] bytes, @Nullable String contentType) {
        if (bytes.length <= INLINE_PARSE_BYTES) {
            return Mono.just(BodyFacts.of(bytes, contentType));
        }
        return Mono.fromCallable(() -> BodyFacts.of(bytes, contentType)).subscribeOn(Schedulers.parallel());
    }

    /** Classify, check the client may use the task, then the attempt loop. */
    private Mono<Void> route(Exchange ex, AuthDecision.Admitted admitted, byte[] bytes, BodyFacts facts) {
        Classification classification = classify(ex, facts);
        if (!(classification instanceof Classification.Classified classified)) {
            return fail(ex, classificationError(classification));
        }
        ex.task = classified.task();
        if (!admitted.mayUse(classified.task())) {
            return fail(ex, KeymuxError.of(403, "task_forbidden", "client '" + admitted.clientName()
                    + "' may not use task '" + classified.task() + "' (see clients[].allowed_tasks)"));
        }
        TaskConfig task = config.task(classified.task()).orElseThrow();
        Route route = new Route(task, classified.forwardPath(), bytes, facts.estimatedTokens(bytes.length));
        return attempt(ex, route, 1, Set.of(), null);
    }

    // ---- Authenticate -------------------------------------------------------------------------

    private AuthDecision authenticate(Exchange ex) {
        return authenticator.authenticate(presentedKey(ex.requestHeaders()), isLoopback(ex.request.remoteAddress()));
    }

    private static @Nullable String presentedKey(HttpHeaders headers) {
        String authorization = headers.get(HttpHeaderNames.AUTHORIZATION);
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).trim();
        }
        String key = headers.get("x-api-key");
        return key != null ? key : headers.get("api-key");
    }

    private static boolean isLoopback(@Nullable SocketAddress address) {
        return address instanceof InetSocketAddress inet && inet.getAddress() != null
                && inet.getAddress().isLoopbackAddress();
    }

    // ---- Read the body once, bounded ------------------------------------------------------------

    private static Mono<RequestBody> readBody(Exchange ex, long limit, long declared) {
        RequestBody body = new RequestBody(limit, declared);
        // takeUntil cancels the inbound as soon as the limit is crossed: the rest is never read and
        // the connection is closed after the 413.
        return ex.request.receive()
                .takeUntil(chunk -> !body.append(chunk))
                .then(Mono.just(body));
    }

    private static long contentLength(HttpHeaders headers) {
        String value = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        if (value == null) {
            return 0;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return 0; // Netty's decoder already refuses a malformed Content-Length
        }
    }

    private static KeymuxError bodyTooLarge(long limit) {
        return new KeymuxError(413, "body_too_large",
                "the request body exceeds server.max_body_bytes (" + limit + " bytes)", null, true);
    }

    // ---- Classify -------------------------------------------------------------------------------

    private Classification classify(Exchange ex, BodyFacts facts) {
        HttpHeaders headers = ex.requestHeaders();
        return classifier.classify(new RequestFacts(
                headers.get(config.server().taskHeader()), ex.rawPath(), facts.model(), headers::get));
    }

    private KeymuxError classificationError(Classification classification) {
        if (classification instanceof Classification.UnknownTask unknown) {
            return KeymuxError.of(400, "unknown_task", "unknown task '" + unknown.name() + "' (known tasks: "
                    + String.join(", ", unknown.known()) + ")");
        }
        if (classification instanceof Classification.BadRequest bad) {
            return KeymuxError.badRequest(bad.message());
        }
        return KeymuxError.of(400, "no_task_matched", "no task matched this request: send the "
                + config.server().taskHeader() + " header, use a /tasks/{task}/ path prefix, or set default_task");
    }

    // ---- Select a key, forward, fail over -------------------------------------------------------

    /** What a request needs across attempts. */
    private record Route(TaskConfig task, String forwardPath, byte[] body, long estimatedTokens) {}

    /** Why an attempt did not deliver an answer, and what the client gets if it was the last. */
    private record Failure(KeymuxError error) {}

    /** The result of one attempt: delivered (possibly broken mid-stream), or retry with another key. */
    private sealed interface AttemptResult {}

    private record Delivered() implements AttemptResult {}

    private record Retry(Failure failure) implements AttemptResult {}

    private Mono<Void> attempt(Exchange ex, Route route, int number, Set<String> tried, @Nullable Failure last) {
        if (number > route.task().maxAttempts()) {
            return fail(ex, Objects.requireNonNull(last, "last").error());
        }
        return selectKey(ex, route, tried).flatMap(admission -> {
            if (admission instanceof Rejection rejection) {
                return fail(ex, rejectionError(rejection, last));
            }
            Lease lease = (Lease) admission;
            ex.attempts = number;
            Set<String> nowTried = new HashSet<>(tried);
            nowTried.add(lease.key().keyId());
            return forward(ex, route, lease).flatMap(result -> result instanceof Retry retry
                    ? attempt(ex, route, number + 1, nowTried, retry.failure())
                    : Mono.empty());
        });
    }

    private Mono<Admission> selectKey(Exchange ex, Route route, Set<String> tried) {
        KeyRequest request = new KeyRequest(route.task().name(), ex.client, route.estimatedTokens(), tried);
        // Cancelling the Mono cancels the future, which takes the request out of the broker's queue.
        long asked = time.nanoTime();
        return Mono.fromFuture(() -> broker.acquire(request))
                .doOnNext(admission -> accounting.queued(ex, admission, asked));
    }

    private KeymuxError rejectionError(Rejection rejection, @Nullable Failure last) {
        return switch (rejection.reason()) {
            case RATE_LIMITED -> KeymuxError.allKeysExhausted(rejection.message(), rejection.retryAfter());
            case ALL_DISABLED -> KeymuxError.upstreamUnavailable(rejection.message());
            case NO_UNTRIED_KEY -> last != null ? last.error() : KeymuxError.upstreamUnavailable(rejection.message());
        };
    }

    /** One attempt: inject the key, send, then either stream the answer back or report a retryable failure. */
    private Mono<AttemptResult> forward(Exchange ex, Route route, Lease lease) {
        TaskConfig task = route.task();
        String keyId = lease.key().keyId();
        UpstreamConfig upstream = config.upstream(lease.key().upstream()).orElse(null);
        if (upstream == null) {
            lease.settle(new Outcome.Cancelled());
            return Mono.just(new Retry(new Failure(KeymuxError.upstreamUnavailable(
                    "key '" + keyId + "' names an upstream that is not configured"))));
        }
        ex.keyId = keyId;
        ex.upstream = upstream.name();
        AtomicBoolean settled = new AtomicBoolean();
        Settle settle = outcome -> {
            if (settled.compareAndSet(false, true)) {
                lease.settle(outcome);
            }
        };
        // InjectKey: the target URI and headers carry the pool key and never the client's.
        String key = lease.key().apiKey().reveal();
        UpstreamTarget target = UpstreamTarget.of(upstream, route.forwardPath(), ex.rawQuery(), key);
        HttpHeaders headers = HeaderRewrite.towardsUpstream(ex.requestHeaders(), config.server().taskHeader(),
                target, upstream.auth(), key, ex.requestId, route.body().length);
        long started = time.nanoTime();
        return upstreams.forTask(task)
                .headers(h -> h.set(headers))
                .request(ex.request.method())
                .uri(target.uri())
                .send((req, out) -> {
                    req.responseTimeout(task.timeouts().firstByte());
                    return route.body().length == 0 ? out : out.sendByteArray(Mono.just(route.body()));
                })
                .responseConnection((response, connection) -> {
                    // The first-byte timeout is over; from here the idle timeout between chunks applies.
                    connection.removeHandler(NettyPipeline.ResponseTimeoutHandler);
                    accounting.upstreamHeaders(ex, started);
                    int status = response.status().code();
                    Failure failure = retryableFailure(task, status, response.responseHeaders());
                    if (failure != null) {
                        accounting.upstreamLatency(ex, lease, time.nanoTime() - started);
                        settle.accept(outcomeOf(status, response.responseHeaders()));
                        // Drain the refused answer so the connection can go back to the pool; an error
                        // body that stalls only costs that connection, the retry goes on.
                        return connection.inbound().receive()
                                .timeout(task.timeouts().idle())
                                .then(Mono.<AttemptResult>just(new Retry(failure)))
                                .onErrorReturn(new Retry(failure));
                    }
                    JsonUsageScanner usage = new JsonUsageScanner();
                    AtomicBoolean whole = new AtomicBoolean();
                    Flux<ByteBuf> content = connection.inbound().receive().doOnComplete(() -> whole.set(true));
                    return streamBack(ex, task, status, response.responseHeaders(), content, usage)
                            .then(Mono.fromSupplier(() -> {
                                if (!whole.get()) {
                                    // The write ended before the upstream did: the client went away.
                                    settle.accept(new Outcome.Cancelled());
                                    return (AttemptResult) new Delivered();
                                }
                                if (usage.usageKnown()) {
                                    recordUsage(ex, lease, usage.promptTokens(), usage.completionTokens());
                                }
                                long latency = time.nanoTime() - started;
                                accounting.upstreamLatency(ex, lease, latency);
                                settle.accept(new Outcome.Answered(status, usage.promptTokens(),
                                        usage.completionTokens(), usage.usageKnown(), latency));
                                return (AttemptResult) new Delivered();
                            }));
                })
                .singleOrEmpty()
                .onErrorResume(error -> {
                    if (!ex.response.hasSentHeaders()) {
                        accounting.upstreamHeaders(ex, started);
                    }
                    return attemptError(ex, task, settle, error);
                })
                .doOnCancel(() -> settle.accept(new Outcome.Cancelled()));
    }

    /**
     * Streams the upstream answer to the client as it arrives, chunk by chunk, without copying. If
     * the upstream breaks mid-answer (idle timeout, reset), an SSE stream ends with a {@code data:}
     * event holding the error; any other body is cut off by closing the connection. Either way the
     * returned Mono then fails with the cause, so the lease is settled with it.
     */
    private Mono<Void> streamBack(Exchange ex, TaskConfig task, int status, HttpHeaders upstreamHeaders,
            Flux<ByteBuf> content, JsonUsageScanner usage) {
        HttpServerResponse response = ex.response;
        response.status(HttpResponseStatus.valueOf(status));
        HeaderRewrite.towardsClient(upstreamHeaders, response.responseHeaders());
        addKeymuxHeaders(ex);
        ex.status = status;
        ex.firstByteNanos = time.nanoTime();
        String contentType = upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE);
        boolean sse = contentType != null && contentType.startsWith("text/event-stream");
        AtomicReference<@Nullable Throwable> broken = new AtomicReference<>();
        boolean json = contentType != null && contentType.toLowerCase(Locale.ROOT).contains("json");
        // retain(): the inbound releases each buffer after onNext; the server write releases our
        // reference once the bytes are on the socket.
        Flux<ByteBuf> body = content.timeout(task.timeouts().idle())
                .doOnNext(chunk -> {
                    if (json) {
                        usage.feed(chunk);
                    }
                })
                .map(ByteBuf::retain)
                .onErrorResume(error -> {
                    broken.set(error);
                    // The connection closes once the answer ends, so nothing can follow the broken stream.
                    response.keepAlive(false);
                    if (!sse) {
                        return Flux.error(error);
                    }
                    String event = "data: " + brokenError(task, error).bodyString() + "\n\n";
                    return Flux.just(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8)));
                });
        // Flush per chunk so SSE events go out at once.
        return response.send(body, buf -> true).then().then(Mono.defer(() -> {
            Throwable error = broken.get();
            return error == null ? Mono.<Void>empty() : Mono.<Void>error(error);
        }));
    }

    private static KeymuxError brokenError(TaskConfig task, Throwable error) {
        return isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream stopped sending for longer than tasks[].timeouts.idle"
                        + " on task '" + task.name() + "'")
                : KeymuxError.upstreamUnavailable("the upstream connection broke mid-answer on task '"
                        + task.name() + "'");
    }

    private @Nullable Failure retryableFailure(TaskConfig task, int status, HttpHeaders headers) {
        if (status == 401 || status == 403) {
            return new Failure(KeymuxError.upstreamUnavailable(
                    "the upstream refused the key (" + status + ") and no other key could answer"));
        }
        if (!task.retryOn().retriesStatus(status)) {
            return null;
        }
        if (status == 429) {
            Duration retryAfter = retryAfter(headers);
            return new Failure(KeymuxError.allKeysExhausted(
                    "every key of task '" + task.name() + "' is rate limited upstream; retry later",
                    retryAfter != null ? retryAfter : task.health().rateLimitCooldown()));
        }
        return new Failure(KeymuxError.upstreamUnavailable(
                "the upstream answered " + status + " on every attempt for task '" + task.name() + "'"));
    }

    private Outcome outcomeOf(int status, HttpHeaders headers) {
        if (status == 429) {
            return new Outcome.RateLimited(retryAfter(headers));
        }
        if (status == 401 || status == 403) {
            return new Outcome.Unauthorized(status);
        }
        return new Outcome.ServerError(status);
    }

    private @Nullable Duration retryAfter(HttpHeaders headers) {
        String value = headers.get(HttpHeaderNames.RETRY_AFTER);
        if (value == null) {
            return null;
        }
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(value.trim())));
        } catch (NumberFormatException notSeconds) {
            try {
                long at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
                return Duration.ofMillis(Math.max(0, at - time.currentTimeMillis()));
            } catch (DateTimeParseException notDate) {
                return null;
            }
        }
    }

    /** Connect failures and timeouts: retried before the first byte, otherwise the stream is ended. */
    private Mono<AttemptResult> attemptError(Exchange ex, TaskConfig task, Settle settle, Throwable error) {
        boolean timeout = isTimeout(error);
        if (!timeout && !(error instanceof IOException) && !(error instanceof AbortedException)) {
            settle.accept(new Outcome.ConnectFailure());
            return Mono.error(error);
        }
        settle.accept(timeout ? new Outcome.Timeout() : new Outcome.ConnectFailure());
        KeymuxError keymuxError = timeout
                ? KeymuxError.upstreamTimeout("the upstream did not answer in time for task '" + task.name()
                        + "' (tasks[].timeouts)")
                : KeymuxError.upstreamUnavailable("could not reach the upstream for task '" + task.name() + "'");
        if (ex.response.hasSentHeaders()) {
            return brokenStream(ex).then(Mono.just(new Delivered()));
        }
        boolean retried = timeout ? task.retryOn().timeout() : task.retryOn().connectError();
        if (!retried) {
            return fail(ex, keymuxError).then(Mono.just(new Delivered()));
        }
        return Mono.just(new Retry(new Failure(keymuxError)));
    }

    private static boolean isTimeout(Throwable error) {
        return error instanceof TimeoutException || error instanceof ReadTimeoutException
                || error instanceof ConnectTimeoutException;
    }

    /**
     * An answer that broke after bytes went out cannot be retried. An SSE stream already got its
     * error event from {@link #streamBack} and ends normally (the connection then closes); any other
     * body is cut off by closing the connection, so the client cannot mistake it for complete.
     */
    private static Mono<Void> brokenStream(Exchange ex) {
        ex.response.keepAlive(false);
        String contentType = ex.response.responseHeaders().get(HttpHeaderNames.CONTENT_TYPE);
        if (contentType != null && contentType.startsWith("text/event-stream")) {
            return Mono.empty();
        }
        return Mono.fromRunnable(() -> ex.request.withConnection(connection -> connection.dispose()));
    }

    private interface Settle {
        void accept(Outcome outcome);
    }

    // ---- Answering with keymux's own errors -------------------------------------------------------

    private void addKeymuxHeaders(Exchange ex) {
        HttpHeaders headers = ex.response.responseHeaders();
        if (ex.task != null) {
            headers.set("X-Keymux-Task", ex.task);
        }
        if (ex.keyId != null && config.server().exposeKeyId()) {
            headers.set("X-Keymux-Key-Id", ex.keyId);
        }
        if (ex.attempts > 0) {
            headers.set("X-Keymux-Attempts", Integer.toString(ex.attempts));
        }
        headers.set("X-Request-Id", ex.requestId);
        headers.set(RequestAccounting.OVERHEAD_HEADER, accounting.overheadMs(ex));
    }

    private Mono<Void> fail(Exchange ex, KeymuxError error) {
        if (ex.response.hasSentHeaders()) {
            return brokenStream(ex);
        }
        HttpServerResponse response = ex.response;
        response.status(error.status());
        response.responseHeaders().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        String retryAfter = error.retryAfterSeconds();
        if (retryAfter != null) {
            response.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, retryAfter);
        }
        if (error.closeConnection()) {
            response.keepAlive(false);
        }
        addKeymuxHeaders(ex);
        ex.status = error.status();
        ex.firstByteNanos = time.nanoTime();
        byte[] body = error.body();
        response.responseHeaders().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return response.sendByteArray(Mono.just(body)).then();
    }

    // ---- Account: tokens, cost, metrics, audit ------------------------------------------------------

    /**
     * Accounts an attempt's settled usage: the exchange's tokens and cost (for the audit line), and
     * {@code keymux_tokens_total} / {@code keymux_cost_usd_total}. Call once per request, where the
     * {@link Outcome.Answered} carrying known usage is built.
     */
    void recordUsage(Exchange ex, Lease lease, long promptTokens, long completionTokens) {
        accounting.usage(ex, lease, promptTokens, completionTokens);
    }

    private Mono<Void> unexpected(Exchange ex, Throwable error) {
        LOG.error("request {} failed unexpectedly", ex.requestId, error);
        return fail(ex, KeymuxError.of(500, "internal_error", "keymux failed on this request; see its logs for "
                + "request id " + ex.requestId))
                .onErrorResume(e -> Mono.empty());
    }
}
