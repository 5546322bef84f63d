package io.keymux.server.pipeline;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import io.keymux.core.auth.AuthDecision;
import io.keymux.core.auth.ClientAuthenticator;
import io.keymux.core.classify.Classification;
import io.keymux.core.classify.RequestFacts;
import io.keymux.core.classify.TaskClassifier;
import io.keymux.core.ratelimit.ClientDecision;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.ratelimit.TokenEstimate;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.core.time.TimeSource;
import io.keymux.core.cache.Flight;
import io.keymux.core.cache.StoredAnswer;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.cache.CacheStep;
import io.keymux.server.cache.CoalescedAnswer;
import io.keymux.server.cache.FlightRelay;
import io.keymux.server.cache.ResponseCache;
import io.keymux.server.upstream.HeaderRewrite;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.upstream.UpstreamClients;
import io.keymux.server.upstream.UpstreamTarget;
import io.keymux.server.wire.InspectedRequest;
import io.keymux.server.wire.RequestInspector;
import io.keymux.server.wire.SseUsageScanner;
import io.keymux.server.wire.TokenUsage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.util.concurrent.TimeUnit;
import io.netty.handler.timeout.ReadTimeoutException;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.Supplier;
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
    /** The upstream connection's read timeout between body chunks (removed when the exchange ends). */
    private static final String BODY_TIMEOUT = "keymux.bodyTimeout";

    private final KeymuxConfig config;
    private final ClientAuthenticator authenticator;
    private final TaskClassifier classifier;
    private final KeyBroker broker;
    private final UpstreamClients upstreams;
    private final TimeSource time;
    private final InFlight inFlight;
    private final ProxyMetrics metrics;
    private final RequestAccounting accounting;
    private final ResponseCache cache;

    /** Builds the pipeline for one configuration with a response cache of its own (tests). */
    public ProxyPipeline(KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams, TimeSource time,
            InFlight inFlight, ProxyMetrics metrics, AuditLog audit) {
        this(config, broker, upstreams, time, inFlight, metrics, audit,
                new ResponseCache(config.cache().maxBytes(), time, metrics));
    }

    /**
     * Builds the pipeline for one configuration; {@code audit} gets one line per request, and
     * {@code cache} (kept across reloads) answers the tasks that cache.
     */
    public ProxyPipeline(KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams, TimeSource time,
            InFlight inFlight, ProxyMetrics metrics, AuditLog audit, ResponseCache cache) {
        this.cache = Objects.requireNonNull(cache, "cache");
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
                    .flatMap(inspected -> route(ex, admitted, bytes, inspected));
        });
    }

    /** Small bodies are read on the event loop; large ones on a CPU worker so the loop keeps moving. */
    private static Mono<InspectedRequest> inspect(byte[] bytes, @Nullable String contentType) {
        if (bytes.length <= INLINE_PARSE_BYTES) {
            return Mono.just(RequestInspector.inspect(contentType, bytes));
        }
        return Mono.fromCallable(() -> RequestInspector.inspect(contentType, bytes)).subscribeOn(Schedulers.parallel());
    }

    /** Classify, check the client may use the task, then the attempt loop. */
    private Mono<Void> route(Exchange ex, AuthDecision.Admitted admitted, byte[] bytes, InspectedRequest facts) {
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
        Supplier<Mono<Void>> upstream = () -> goUpstream(ex, admitted, task, classified.forwardPath(), bytes, facts);
        return task.cache().enabled() ? lookUpCache(ex, task, classified.forwardPath(), bytes, facts, upstream)
                : upstream.get();
    }

    /** Past the cache: the client's own limits, then the attempt loop. */
    private Mono<Void> goUpstream(Exchange ex, AuthDecision.Admitted admitted, TaskConfig task, String forwardPath,
            byte[] bytes, InspectedRequest facts) {
        if (broker.clients().admit(admitted.clientName()) instanceof ClientDecision.Refused refused) {
            return fail(ex, new KeymuxError(429, refused.code(), refused.message(), refused.retryAfter(), false));
        }
        // Ask a streaming completions upstream for usage so the reservation settles exactly; the
        // usage-only chunk this adds is taken out of the answer again (UsageTap).
        boolean injectUsage = facts.needsIncludeUsage() && RequestInspector.acceptsStreamOptions(forwardPath);
        byte[] upstreamBody = injectUsage ? RequestInspector.withIncludeUsage(bytes) : bytes;
        Route route = new Route(task, forwardPath, upstreamBody, estimatedTokens(facts), injectUsage);
        return attempt(ex, route, 1, Set.of(), null);
    }

    // ---- Cache and coalescing (SPEC.md section 3.8): one lookup before a key is chosen -----------

    /**
     * A hit is answered from memory (no key, no client limit, no cost); a request identical to one in
     * flight waits for it; otherwise the request goes upstream, as the leader of a flight others may
     * join, or bypassing the cache. The key is the client's body, so one that asked for usage and one
     * that did not never share an answer (keymux's own include_usage is added after this).
     */
    private Mono<Void> lookUpCache(Exchange ex, TaskConfig task, String forwardPath, byte[] bytes,
            InspectedRequest facts, Supplier<Mono<Void>> upstream) {
        String query = ex.rawQuery();
        String pathAndQuery = query == null ? forwardPath : forwardPath + "?" + query;
        Mono<CacheStep> decided = Mono.fromSupplier(() -> cache.decide(task, ex.client, ex.request.method().name(),
                pathAndQuery, bytes, facts.json() && !facts.malformed(), facts.stream(), ex.requestHeaders()));
        if (bytes.length > INLINE_PARSE_BYTES) {
            decided = decided.subscribeOn(Schedulers.parallel());
        }
        return decided.flatMap(step -> {
            ex.cache = step.label();
            if (step instanceof CacheStep.Hit hit) {
                return answerFromCache(ex, task, hit.answer());
            }
            if (step instanceof CacheStep.Join join) {
                return CoalescedAnswer.answer(join.flight(), ex.response, status -> cacheCommitted(ex, status),
                                cost -> cache.saved(task.name(), cost))
                        .flatMap(answered -> {
                            if (answered) {
                                return Mono.empty();
                            }
                            // The answer waited for did not come: go on by ourselves, as a miss.
                            ex.cache = "miss";
                            Flight alone = cache.alone(join.flight(), task);
                            ex.flight = alone;
                            return FlightRelay.lead(alone, upstream.get());
                        });
            }
            if (step instanceof CacheStep.Lead lead) {
                ex.flight = lead.flight();
                return FlightRelay.lead(lead.flight(), upstream.get());
            }
            return upstream.get();
        });
    }

    private Mono<Void> answerFromCache(Exchange ex, TaskConfig task, StoredAnswer answer) {
        HttpServerResponse response = ex.response;
        response.status(HttpResponseStatus.valueOf(answer.status()));
        response.responseHeaders().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType());
        response.responseHeaders().set(HttpHeaderNames.CONTENT_LENGTH, answer.body().length);
        cacheCommitted(ex, answer.status());
        cache.saved(task.name(), answer.costUsd());
        return response.sendByteArray(Mono.just(answer.body())).then();
    }

    /** A hit or coalesced answer's headers are about to go out. */
    private void cacheCommitted(Exchange ex, int status) {
        ex.status = status;
        ex.firstByteNanos = time.nanoTime();
        addKeymuxHeaders(ex);
    }

    /** No client to answer: it hung up, and no coalesced request waits for this answer either. */
    private static boolean nobodyToAnswer(Exchange ex) {
        Flight flight = ex.flight;
        return clientGone(ex) && (flight == null || flight.waiting() == 0);
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

    /** Prompt estimate plus the completion limit (256 when a JSON request names none), reserved up front. */
    private static long estimatedTokens(InspectedRequest facts) {
        if (!facts.json()) {
            return 0; // uploads (audio, images) are not billed by their byte count
        }
        Long limit = facts.completionLimit();
        return facts.promptTokenEstimate()
                + (limit != null ? Math.max(0, limit) : TokenEstimate.DEFAULT_MAX_TOKENS);
    }

    private Classification classify(Exchange ex, InspectedRequest facts) {
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

    /**
     * What a request needs across attempts.
     *
     * @param body the body sent upstream (with {@code include_usage} added when {@code injectedUsage})
     */
    private record Route(TaskConfig task, String forwardPath, byte[] body, long estimatedTokens,
            boolean injectedUsage) {}

    /**
     * Why an attempt did not deliver an answer, and what the client gets if it was the last.
     *
     * @param reason the {@code retry_on} name, for {@code keymux_failovers_total}
     */
    private record Failure(KeymuxError error, String reason) {}

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
            return forward(ex, route, lease).flatMap(result -> {
                if (!(result instanceof Retry retry)) {
                    return Mono.empty();
                }
                if (number < route.task().maxAttempts()) {
                    metrics.failover(route.task().name(), retry.failure().reason());
                }
                return attempt(ex, route, number + 1, nowTried, retry.failure());
            });
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

    /**
     * One attempt: inject the key, send, then either stream the answer back or report a retryable
     * failure. Nothing goes to the client before the answer's first body chunk has arrived (or the
     * body ended empty): until then a refused status, a stall or a broken connection fails over
     * invisibly to another key.
     */
    private Mono<AttemptResult> forward(Exchange ex, Route route, Lease lease) {
        TaskConfig task = route.task();
        String keyId = lease.key().keyId();
        UpstreamConfig upstream = config.upstream(lease.key().upstream()).orElse(null);
        if (upstream == null) {
            lease.settle(new Outcome.Cancelled());
            return Mono.just(new Retry(new Failure(KeymuxError.upstreamUnavailable(
                    "key '" + keyId + "' names an upstream that is not configured"), FailoverPolicy.CONNECT_ERROR)));
        }
        ex.keyId = keyId;
        ex.upstream = upstream.name();
        AtomicBoolean settled = new AtomicBoolean();
        Settle settle = outcome -> {
            if (settled.compareAndSet(false, true)) {
                lease.settle(outcome);
            }
        };
        // Set once the first chunk is on its way to the client: from then on there is no retry.
        AtomicBoolean committed = new AtomicBoolean();
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
                    // Headers are in; the first chunk gets its own first-byte timeout below.
                    connection.removeHandler(NettyPipeline.ResponseTimeoutHandler);
                    int status = response.status().code();
                    HttpHeaders upstreamHeaders = response.responseHeaders();
                    long now = time.currentTimeMillis();
                    lease.observe(ProviderLimits.parse(upstreamHeaders::get, now));
                    FailoverPolicy.Verdict verdict = FailoverPolicy.judge(task.retryOn(), status, upstreamHeaders::get, now);
                    if (verdict.retry()) {
                        accounting.upstreamHeaders(ex, started);
                        accounting.upstreamLatency(ex, lease, time.nanoTime() - started);
                        Outcome outcome = verdict.outcome();
                        settle.accept(outcome != null ? outcome
                                : new Outcome.Answered(status, 0, 0, false, time.nanoTime() - started));
                        Failure failure = statusFailure(task, status, verdict);
                        // Drain the refused answer so the connection can go back to the pool; an error
                        // body that stalls only costs that connection, the retry goes on.
                        connection.addHandlerLast(BODY_TIMEOUT, readTimeout(task.timeouts().idle()));
                        return connection.inbound().receive()
                                .then(Mono.<AttemptResult>just(new Retry(failure)))
                                .onErrorReturn(new Retry(failure));
                    }
                    UsageTap tap = UsageTap.of(upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE),
                            upstreamHeaders.get(HttpHeaderNames.CONTENT_ENCODING), route.injectedUsage());
                    AtomicBoolean whole = new AtomicBoolean();
                    // Settled as soon as the upstream has sent everything (not once the client has it
                    // all): the key's slot is free and its usage known at that point.
                    Runnable onWhole = () -> {
                        whole.set(true);
                        delivered(ex, lease, status, verdict, tap, settle, started);
                    };
                    // retain(): the inbound releases each buffer after onNext, but the held first
                    // chunk and the client write outlive that; the write releases our reference.
                    // The first chunk gets first_byte, each later one idle: timed by a Netty handler on the
                    // connection's own event loop (no Reactor timer, so no thread hop per chunk).
                    connection.addHandlerLast(BODY_TIMEOUT, readTimeout(task.timeouts().firstByte()));
                    AtomicBoolean firstChunk = new AtomicBoolean(true);
                    Flux<ByteBuf> content = connection.inbound().receive().retain()
                            .doOnNext(chunk -> {
                                if (firstChunk.compareAndSet(true, false)) {
                                    connection.removeHandler(BODY_TIMEOUT)
                                            .addHandlerLast(BODY_TIMEOUT, readTimeout(task.timeouts().idle()));
                                }
                            });
                    return content.switchOnFirst((first, rest) -> {
                                if (first.isOnError()) {
                                    // Nothing reached the client: this fails over like a connect failure.
                                    return Mono.<AttemptResult>error(Objects.requireNonNull(first.getThrowable()));
                                }
                                if (nobodyToAnswer(ex)) {
                                    // Nobody to answer: stop here (the held chunk is released as discarded).
                                    settle.accept(new Outcome.Cancelled());
                                    ex.status = CLIENT_CLOSED_REQUEST;
                                    return Mono.just((AttemptResult) new Delivered());
                                }
                                accounting.upstreamHeaders(ex, started);
                                committed.set(true);
                                return streamBack(ex, task, status, upstreamHeaders, rest, tap, onWhole)
                                        .then(Mono.fromSupplier(() -> {
                                            if (!whole.get()) {
                                                // The write ended before the upstream did: the client went away.
                                                settle.accept(new Outcome.Cancelled());
                                            }
                                            return (AttemptResult) new Delivered();
                                        }));
                            })
                            .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease)
                            .doFinally(signal -> tap.close());
                })
                .singleOrEmpty()
                .onErrorResume(error -> {
                    if (!committed.get()) {
                        accounting.upstreamHeaders(ex, started);
                    }
                    return attemptError(ex, task, settle, committed, error);
                })
                .doOnCancel(() -> settle.accept(new Outcome.Cancelled()));
    }

    /** A read timeout on the upstream connection's event loop; it fails the inbound with {@link ReadTimeoutException}. */
    private static ReadTimeoutHandler readTimeout(Duration timeout) {
        return new ReadTimeoutHandler(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
    }

    /** Settles an answer the upstream has sent whole, with its usage. */
    private void delivered(Exchange ex, Lease lease, int status, FailoverPolicy.Verdict verdict, UsageTap tap,
            Settle settle, long started) {
        Outcome passedThrough = verdict.outcome();
        if (passedThrough != null) {
            // A 429 or 5xx the task does not retry still tells the broker about the key.
            settle.accept(passedThrough);
            return;
        }
        TokenUsage usage = tap.usage();
        boolean known = usage.isComplete();
        long prompt = known ? Objects.requireNonNull(usage.promptTokens()) : 0;
        long completion = known ? Objects.requireNonNull(usage.completionTokens()) : 0;
        if (known) {
            recordUsage(ex, lease, prompt, completion);
        }
        long latency = time.nanoTime() - started;
        accounting.upstreamLatency(ex, lease, latency);
        settle.accept(new Outcome.Answered(status, prompt, completion, known, latency));
    }

    /**
     * Streams the upstream answer to the client as it arrives, chunk by chunk, without copying. If
     * the upstream breaks mid-answer (idle timeout, reset), an SSE stream ends with a {@code data:}
     * event holding the error; any other body is cut off by closing the connection. Either way the
     * returned Mono then fails with the cause, so the lease is settled with it. {@code onWhole} runs
     * once the upstream has sent everything, before the last bytes reach the client.
     */
    private Mono<Void> streamBack(Exchange ex, TaskConfig task, int status, HttpHeaders upstreamHeaders,
            Flux<ByteBuf> content, UsageTap tap, Runnable onWhole) {
        HttpServerResponse response = ex.response;
        response.status(HttpResponseStatus.valueOf(status));
        HeaderRewrite.towardsClient(upstreamHeaders, response.responseHeaders());
        addKeymuxHeaders(ex);
        ex.status = status;
        ex.firstByteNanos = time.nanoTime();
        boolean sse = SseUsageScanner.isEventStream(upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE));
        if (tap.changesLength()) {
            // The usage-only chunk keymux asked for is taken out, so the upstream's length no longer holds.
            response.responseHeaders().remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        AtomicReference<@Nullable Throwable> broken = new AtomicReference<>();
        // Each chunk is already retained; the tap hands back the reference the write releases.
        Flux<ByteBuf> body = content.map(tap::feed)
                .concatWith(Mono.fromSupplier(tap::finish))
                .doOnComplete(onWhole)
                .filter(chunk -> {
                    if (chunk.isReadable()) {
                        return true;
                    }
                    chunk.release();
                    return false;
                })
                .onErrorResume(error -> {
                    broken.set(error);
                    // The connection closes once the answer ends, so nothing can follow the broken stream.
                    response.keepAlive(false);
                    if (!sse) {
                        return Flux.error(error);
                    }
                    String event = "data: " + brokenError(task, error).bodyString() + "\n\n";
                    return Flux.just(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8)));
                })
                .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease);
        // Flush per chunk so SSE events go out at once.
        Flight flight = ex.flight;
        Mono<Void> sent = flight == null ? response.send(body, buf -> true).then()
                : FlightRelay.through(flight, status, String.valueOf(upstreamHeaders.get(HttpHeaderNames.CONTENT_TYPE)),
                        sse, body, relayed -> response.send(relayed, buf -> true).then(), () -> broken.get() == null,
                        () -> ex.costUsd);
        return sent.then(Mono.defer(() -> {
            Throwable error = broken.get();
            return error == null ? Mono.<Void>empty() : Mono.<Void>error(error);
        }));
    }

    private static KeymuxError brokenError(TaskConfig task, Throwable error) {
        return FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream stopped sending for longer than tasks[].timeouts.idle"
                        + " on task '" + task.name() + "'")
                : KeymuxError.upstreamUnavailable("the upstream connection broke mid-answer on task '"
                        + task.name() + "'");
    }

    /** What the client gets if this refused status was the last attempt. */
    private static Failure statusFailure(TaskConfig task, int status, FailoverPolicy.Verdict verdict) {
        if (status == 401 || status == 403) {
            return new Failure(KeymuxError.upstreamUnavailable("the upstream refused the key of task '" + task.name()
                    + "' (" + status + ") and no other key could answer; check the keys in the config"),
                    verdict.reason());
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
    private Mono<AttemptResult> attemptError(Exchange ex, TaskConfig task, Settle settle, AtomicBoolean committed,
            Throwable error) {
        if (nobodyToAnswer(ex)) {
            // The client hung up, and the upstream exchange broke because of that: not the key's fault,
            // so no failure towards its circuit, and nobody left to retry for.
            settle.accept(new Outcome.Cancelled());
            if (ex.status == 0) {
                ex.status = CLIENT_CLOSED_REQUEST;
            }
            return Mono.just(new Delivered());
        }
        if (!FailoverPolicy.isTransportFailure(error)) {
            // keymux's own failure, not the key's: refund and leave the key's health alone.
            settle.accept(new Outcome.Cancelled());
            return Mono.error(error);
        }
        settle.accept(FailoverPolicy.transportOutcome(error));
        KeymuxError keymuxError = FailoverPolicy.isTimeout(error)
                ? KeymuxError.upstreamTimeout("the upstream did not answer in time for task '" + task.name()
                        + "' (tasks[].timeouts)")
                : KeymuxError.upstreamUnavailable("could not reach the upstream for task '" + task.name() + "'");
        if (committed.get() || ex.response.hasSentHeaders()) {
            return brokenStream(ex).then(Mono.just(new Delivered()));
        }
        if (!FailoverPolicy.retriesTransport(task.retryOn(), error)) {
            return fail(ex, keymuxError).then(Mono.just(new Delivered()));
        }
        return Mono.just(new Retry(new Failure(keymuxError, FailoverPolicy.transportReason(error))));
    }

    /** Whether the client's connection is closed. */
    private static boolean clientGone(Exchange ex) {
        boolean[] gone = {false};
        ex.request.withConnection(connection -> gone[0] = !connection.channel().isActive());
        return gone[0];
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
        if (ex.attempts > 0 || CacheStep.answeredFromCache(ex.cache)) {
            headers.set("X-Keymux-Attempts", Integer.toString(ex.attempts));
        }
        if (!"off".equals(ex.cache)) {
            headers.set("X-Keymux-Cache", ex.cache);
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
        if (error instanceof AbortedException && !ex.response.hasSentHeaders()) {
            // The connection closed under the request: the client left, or the connection guard
            // answered a slow or malformed body itself (server.guard.HttpGuard). Nothing to answer.
            LOG.debug("request {}: connection closed before an answer", ex.requestId);
            if (ex.status == 0) {
                ex.status = CLIENT_CLOSED_REQUEST;
            }
            return Mono.empty();
        }
        LOG.error("request {} failed unexpectedly", ex.requestId, error);
        return fail(ex, KeymuxError.of(500, "internal_error", "keymux failed on this request; see its logs for "
                + "request id " + ex.requestId))
                .onErrorResume(e -> Mono.empty());
    }
}
