package io.keymux.server.pipeline;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import io.keymux.core.auth.AuthDecision;
import io.keymux.core.auth.ClientAuthenticator;
import io.keymux.core.classify.Classification;
import io.keymux.core.classify.RequestFacts;
import io.keymux.core.classify.TaskClassifier;
import io.keymux.core.ratelimit.ClientDecision;
import io.keymux.core.ratelimit.TokenEstimate;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyPreference;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.core.time.TimeSource;
import io.keymux.core.cache.Flight;
import io.keymux.core.cache.StoredAnswer;
import io.keymux.server.affinity.AffinityStore;
import io.keymux.server.affinity.ListQuery;
import io.keymux.server.affinity.ObjectAffinity;
import io.keymux.server.affinity.PathIds;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.audit.AuditRecord;
import io.keymux.core.auth.AuthFailures;
import io.keymux.server.cache.CacheStep;
import io.keymux.server.cache.CoalescedAnswer;
import io.keymux.server.cache.FlightRelay;
import io.keymux.server.cache.ResponseCache;
import io.keymux.server.guard.LoopDelay;
import io.keymux.server.upstream.HeaderRewrite;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.upstream.UpstreamClients;
import io.keymux.server.upstream.UpstreamTarget;
import io.keymux.server.websocket.Subprotocols;
import io.keymux.server.websocket.WebSocketProxy;
import io.keymux.server.wire.InspectedRequest;
import io.keymux.server.wire.RequestInspector;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.net.SocketAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.scheduler.Schedulers;
import reactor.netty.channel.AbortedException;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * The proxy's request path, top to bottom. Before the attempt loop, in this order:
 *
 * <ol>
 *   <li>{@link #authenticate} the client key;</li>
 *   <li>refuse request smuggling (Content-Length with Transfer-Encoding) and a declared body over
 *   {@code server.max_body_bytes};</li>
 *   <li>{@link #readBody} once, bounded;</li>
 *   <li>{@link #inspect} it (model, stream, token estimate: only the fields classification and
 *   accounting need);</li>
 *   <li>{@link #classify} into a task, check the client may use it and its own limit;</li>
 *   <li>build the {@link Route} (the upstream body, with {@code include_usage} injected for a stream);</li>
 *   <li>{@link #routeByAffinity}: a request naming a provider object goes to the key that holds it,
 *   one naming only unknown ids searches the keys, and with {@code prompt_affinity} the prompt's
 *   preferred keys come first (SPEC.md section 3.9); a list request of a task with several keys is
 *   answered by {@link ListUnion} with the union over them.</li>
 * </ol>
 *
 * <p>Then the attempt loop ({@link #attempt}): {@link #selectKey} (which may queue), then one
 * {@link UpstreamAttempt} per key ({@link #forward} injects the key), whose
 * {@link UpstreamAttempt.Result} says delivered or retry with another key; failover happens only
 * before the first byte reaches the client. A step that would come before the attempt loop (a
 * response cache, say) slots in after the route is built.
 *
 * <p>An exchange runs on its client connection's event loop from accept to last byte (see
 * {@link Exchange}). Stateless apart from the configuration it was built for; one instance serves
 * every request.
 */
public final class ProxyPipeline implements BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyPipeline.class);
    /** Marker header set by the request decoder when a request had both Content-Length and Transfer-Encoding. */
    public static final String SMUGGLING_MARKER = "x-keymux-internal-cl-te";
    /** JSON bodies up to this size are inspected on the event loop (well under a millisecond). */
    private static final int INLINE_PARSE_BYTES = 256 * 1024;
    /** Audit status of a request whose client went away before an answer started (nginx's 499). */
    private static final int CLIENT_CLOSED_REQUEST = UpstreamAttempt.CLIENT_CLOSED_REQUEST;

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
    private final ObjectAffinity affinity;
    /** Whether some task has prompt affinity on, so the inspector digests the stable prompt. */
    private final boolean digestPrompts;
    private final WebSocketProxy websockets;
    /** List requests of a task with several keys: the union over them (SPEC.md section 3.9). */
    private final ListUnion lists;
    /** Wrong client keys per address (kept across reloads): later ones are answered slowly. */
    private final AuthFailures authFailures;

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
        this(config, broker, upstreams, time, inFlight, metrics, audit, cache,
                new ObjectAffinity(AffinityStore.local(config.affinity(), time), metrics));
    }

    /**
     * Builds the pipeline for one configuration; {@code cache} and {@code affinity} (the map of
     * provider objects to keys) are kept across reloads.
     */
    public ProxyPipeline(KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams, TimeSource time,
            InFlight inFlight, ProxyMetrics metrics, AuditLog audit, ResponseCache cache, ObjectAffinity affinity) {
        this(config, broker, upstreams, time, inFlight, metrics, audit, cache, affinity,
                new AuthFailures("client key", time));
    }

    /**
     * Builds the pipeline for one configuration; {@code cache}, {@code affinity} (the map of provider
     * objects to keys) and {@code authFailures} (wrong client keys per address) are kept across reloads.
     */
    public ProxyPipeline(KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams, TimeSource time,
            InFlight inFlight, ProxyMetrics metrics, AuditLog audit, ResponseCache cache, ObjectAffinity affinity,
            AuthFailures authFailures) {
        this.authFailures = Objects.requireNonNull(authFailures, "authFailures");
        this.cache = Objects.requireNonNull(cache, "cache");
        this.affinity = Objects.requireNonNull(affinity, "affinity");
        this.digestPrompts = config.tasks().stream().anyMatch(TaskConfig::promptAffinity);
        this.config = Objects.requireNonNull(config, "config");
        this.authenticator = ClientAuthenticator.of(config);
        this.classifier = TaskClassifier.of(config);
        this.broker = Objects.requireNonNull(broker, "broker");
        this.upstreams = Objects.requireNonNull(upstreams, "upstreams");
        this.time = Objects.requireNonNull(time, "time");
        this.inFlight = Objects.requireNonNull(inFlight, "inFlight");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.accounting = new RequestAccounting(metrics, Objects.requireNonNull(audit, "audit"), time);
        this.websockets = new WebSocketProxy(config, broker, upstreams, time, metrics, audit, this.authFailures);
        this.lists = new ListUnion(this, config, broker, upstreams, time, accounting, affinity.store());
    }

    @Override
    public Publisher<Void> apply(HttpServerRequest request, HttpServerResponse response) {
        String requestId = requestId(request.requestHeaders().get("X-Request-Id"));
        if (Subprotocols.isUpgrade(request.requestHeaders())) {
            // A WebSocket session (SPEC.md section 3.10) has its own path; in flight for its whole life.
            inFlight.enter();
            return websockets.apply(request, response, requestId).doFinally(signal -> inFlight.exit());
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

    /** The client's {@code X-Request-Id} when it sent a usable one (SPEC.md section 3.5 step 6), else a new id. */
    public static String requestId(@Nullable String sent) {
        return sent == null || sent.isBlank() || sent.length() > 200 ? newRequestId() : sent;
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
            KeymuxError error = KeymuxError.invalidClientKey(refused.message());
            Duration hold = authFailures.failed(AuditRecord.addressOf(ex.request.remoteAddress()));
            // An address that keeps guessing waits for its 401 (a timer on its own loop, not a thread).
            return LoopDelay.of(ex.loop, hold).then(Mono.defer(() -> fail(ex, error)));
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
            return inspect(bytes, headers.get(HttpHeaderNames.CONTENT_TYPE), digestPrompts, ex.loop)
                    .flatMap(inspected -> route(ex, admitted, bytes, inspected));
        });
    }

    /** Small bodies are read on the event loop; large ones on a CPU worker so the loop keeps moving. */
    private static Mono<InspectedRequest> inspect(byte[] bytes, @Nullable String contentType, boolean digestPrompt,
            EventLoop loop) {
        if (bytes.length <= INLINE_PARSE_BYTES) {
            return Mono.just(RequestInspector.inspect(contentType, bytes, digestPrompt));
        }
        return Mono.fromCallable(() -> RequestInspector.inspect(contentType, bytes, digestPrompt))
                .subscribeOn(Schedulers.parallel())
                // Back on the exchange's loop before the next step touches it.
                .publishOn(Schedulers.fromExecutor(loop));
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
        // Only a JSON request is billed by tokens; its answer is charged this when no usage arrives.
        UsageEstimate estimate = facts.json() ? new UsageEstimate(facts.promptTokenEstimate(), facts.completionLimit())
                : null;
        Route route = new Route(task, forwardPath, upstreamBody, estimatedTokens(facts), injectUsage, facts.model(),
                estimate, KeyPreference.NONE, PathIds.of(forwardPath), List.of(), facts.store(), 0);
        return routeByAffinity(ex, route, facts);
    }

    // ---- Provider objects and prompt affinity (SPEC.md section 3.9) ------------------------------

    /**
     * A request naming provider objects (in its path or body) goes to the key the map says holds
     * them, and only to it; the key's removal from the config is 409 {@code resource_key_removed};
     * ids nobody knows are searched for on the task's keys in turn. Any other request of a task with
     * {@code prompt_affinity: on} prefers its prompt's keys in rendezvous order.
     */
    private Mono<Void> routeByAffinity(Exchange ex, Route route, InspectedRequest facts) {
        if (facts.objectIds().isEmpty()
                && ListQuery.isList(ex.request.method().name(), route.forwardPath(), route.pathIds())) {
            List<ApiKeyConfig> keys = keysOf(route.task());
            if (keys.size() > 1) {
                return lists.answer(ex, route.task(), route.forwardPath(), keys);
            }
        }
        if (route.pathIds().isEmpty() && facts.objectIds().isEmpty()) {
            KeyPreference order = ObjectAffinity.promptOrder(config, route.task(), facts.promptCacheKey(),
                    facts.promptDigest());
            return attempt(ex, order.isNone() ? route : route.preferring(order), 1, Set.of(), null);
        }
        return onLoop(ex, () -> affinity.resolve(config, route.task().name(), route.pathIds(), facts.objectIds()))
                .flatMap(decision -> {
                    if (decision instanceof ObjectAffinity.Decision.Pinned pinned) {
                        return attempt(ex, route.preferring(KeyPreference.pinned(pinned.keyId())), 1, Set.of(), null);
                    }
                    if (decision instanceof ObjectAffinity.Decision.Removed removed) {
                        return fail(ex, KeymuxError.of(409, "resource_key_removed", "'" + removed.objectId()
                                + "' belongs to key '" + removed.keyId() + "', which is no longer configured; its"
                                + " provider account still holds it: add the key back to reach it"));
                    }
                    if (decision instanceof ObjectAffinity.Decision.Search search) {
                        return attempt(ex, route.searching(search.ids(), searchableKeys(route.task())), 1, Set.of(),
                                null);
                    }
                    return attempt(ex, route, 1, Set.of(), null);
                });
    }

    /** How many keys an unknown id is searched on: the task's own and the {@code "*"} keys. */
    private int searchableKeys(TaskConfig task) {
        return keysOf(task).size();
    }

    /** The keys that serve {@code task} (its own and the {@code "*"} keys), in config order. */
    private List<ApiKeyConfig> keysOf(TaskConfig task) {
        List<ApiKeyConfig> keys = new java.util.ArrayList<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            if (key.taskTypes().contains(task.name()) || key.servesAnyTask()) {
                keys.add(key);
            }
        }
        return keys;
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
            decided = decided.subscribeOn(Schedulers.parallel()).publishOn(Schedulers.fromExecutor(ex.loop));
        }
        return decided.flatMap(step -> {
            ex.cache = step.label();
            if (step instanceof CacheStep.Hit hit) {
                return answerFromCache(ex, task, hit.answer());
            }
            if (step instanceof CacheStep.Join join) {
                return CoalescedAnswer.answer(join.flight(), ex.loop, ex.response, status -> cacheCommitted(ex, status),
                                cost -> cache.saved(task.name(), cost))
                        .flatMap(answered -> {
                            if (answered) {
                                return Mono.empty();
                            }
                            // The answer waited for did not come: go on by ourselves, as a miss.
                            ex.cache = "miss";
                            Flight alone = cache.alone(join.flight(), task);
                            ex.flight = alone;
                            return FlightRelay.lead(alone, ex.loop, upstream.get());
                        });
            }
            if (step instanceof CacheStep.Lead lead) {
                ex.flight = lead.flight();
                return FlightRelay.lead(lead.flight(), ex.loop, upstream.get());
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
    static boolean nobodyToAnswer(Exchange ex) {
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
        return TokenEstimate.reservation(facts.promptTokenEstimate(), facts.completionLimit());
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
     * @param model the body's {@code model}: picks a key's {@code models} bucket, and tells a 429 for
     *     that model from one for the whole key
     * @param estimate what a 2xx answer is charged if its usage never arrives, or {@code null}
     */
    private record Route(TaskConfig task, String forwardPath, byte[] body, long estimatedTokens,
            boolean injectedUsage, @Nullable String model, @Nullable UsageEstimate estimate, KeyPreference preference, List<String> pathIds,
            List<String> searched, boolean store, int searchKeys) {

        Route preferring(KeyPreference order) {
            return new Route(task, forwardPath, body, estimatedTokens, injectedUsage, model, estimate, order, pathIds, searched,
                    store, searchKeys);
        }

        /** Ids nobody knows, searched for on {@code keys} keys: each miss is one more attempt. */
        Route searching(List<String> ids, int keys) {
            return new Route(task, forwardPath, body, estimatedTokens, injectedUsage, model, estimate, preference, pathIds, ids,
                    store, keys);
        }

        int maxAttempts() {
            return task.maxAttempts() + Math.max(0, searchKeys - 1);
        }
    }

    private Mono<Void> attempt(Exchange ex, Route route, int number, Set<String> tried, @Nullable AttemptFailure last) {
        if (number > route.maxAttempts()) {
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
            if (number == 1) {
                affinity.promptRouted(route.task().name(), route.preference(), lease.key().keyId());
            }
            // Searching for an unknown id: "not found" moves on, except on the last key, whose answer stands.
            ex.searching = !route.searched().isEmpty() && nowTried.size() < route.searchKeys();
            return forward(ex, route, lease).flatMap(result -> {
                if (!(result instanceof UpstreamAttempt.Result.Retry retry)) {
                    return Mono.empty();
                }
                if (ObjectSearch.NOT_HERE_REASON.equals(retry.failure().reason())) {
                    return attempt(ex, route, number + 1, nowTried, retry.failure());
                }
                if (number < route.maxAttempts()) {
                    metrics.failover(route.task().name(), retry.failure().reason());
                }
                return attempt(ex, route, number + 1, nowTried, retry.failure());
            });
        });
    }

    private Mono<Admission> selectKey(Exchange ex, Route route, Set<String> tried) {
        KeyRequest request = new KeyRequest(route.task().name(), ex.client, route.estimatedTokens(), tried,
                route.model(), route.preference());
        long asked = time.nanoTime();
        return onLoop(ex, () -> broker.acquire(request)).doOnNext(admission -> accounting.queued(ex, admission, asked));
    }

    /**
     * A future's value on the exchange's event loop: at once when it is already done (a key was
     * free), otherwise handed back to the loop by whoever completes it (the queue's timer, another
     * exchange's settle, a Redis answer). Cancelling the Mono cancels the future, which takes the
     * request out of the broker's queue.
     */
    static <T> Mono<T> onLoop(Exchange ex, java.util.function.Supplier<CompletableFuture<T>> call) {
        return Mono.create(sink -> {
            CompletableFuture<T> future = call.get();
            sink.onCancel(() -> future.cancel(true));
            future.whenComplete((value, error) -> {
                if (ex.loop.inEventLoop()) {
                    emit(sink, value, error);
                } else {
                    ex.loop.execute(() -> emit(sink, value, error));
                }
            });
        });
    }

    private static <T> void emit(MonoSink<T> sink, @Nullable T value, @Nullable Throwable error) {
        if (error != null) {
            sink.error(error instanceof CompletionException && error.getCause() != null ? error.getCause() : error);
        } else if (value != null) {
            sink.success(value);
        } else {
            sink.success();
        }
    }

    private KeymuxError rejectionError(Rejection rejection, @Nullable AttemptFailure last) {
        return switch (rejection.reason()) {
            case RATE_LIMITED -> KeymuxError.allKeysExhausted(rejection.message(), rejection.retryAfter());
            case ALL_DISABLED -> KeymuxError.upstreamUnavailable(rejection.message());
            case NO_UNTRIED_KEY -> last != null ? last.error() : KeymuxError.upstreamUnavailable(rejection.message());
            case UPSTREAM_OVERLOADED -> KeymuxError.upstreamOverloaded(rejection.message(), rejection.retryAfter());
        };
    }

    /**
     * One attempt: inject the key, then hand over to an {@link UpstreamAttempt} on this exchange's
     * event loop's upstream pool.
     */
    private Mono<UpstreamAttempt.Result> forward(Exchange ex, Route route, Lease lease) {
        TaskConfig task = route.task();
        String keyId = lease.key().keyId();
        UpstreamConfig upstream = config.upstream(lease.key().upstream()).orElse(null);
        if (upstream == null) {
            lease.settle(new Outcome.Cancelled());
            return Mono.just(new UpstreamAttempt.Result.Retry(new AttemptFailure(KeymuxError.upstreamUnavailable(
                    "key '" + keyId + "' names an upstream that is not configured"), FailoverPolicy.CONNECT_ERROR)));
        }
        ex.keyId = keyId;
        ex.upstream = upstream.name();
        // InjectKey: the target URI and headers carry the pool key and never the client's.
        String key = lease.key().apiKey().reveal();
        UpstreamTarget target = UpstreamTarget.of(upstream, route.forwardPath(), ex.rawQuery(), key);
        HttpHeaders headers = HeaderRewrite.towardsUpstream(ex.requestHeaders(), config.server().taskHeader(),
                target, upstream.auth(), key, ex.requestId, route.body().length);
        ex.answerWatch = affinity.watch(task.name(), keyId, ex.request.method().name(), route.forwardPath(),
                route.store(), route.pathIds(), route.searched());
        UpstreamAttempt attempt = new UpstreamAttempt(this, accounting, time, ex, task, upstreams.on(ex.loop), lease,
                route.injectedUsage(), route.model(), route.estimate());
        return attempt.run(target, headers, route.body());
    }

    /** Whether the client's connection is closed. */
    static boolean clientGone(Exchange ex) {
        boolean[] gone = {false};
        ex.request.withConnection(connection -> gone[0] = !connection.channel().isActive());
        return gone[0];
    }

    /**
     * An answer that broke after bytes went out cannot be retried. An SSE stream already got its
     * error event from {@link UpstreamAttempt} and ends normally (the connection then closes); any other
     * body is cut off by closing the connection, so the client cannot mistake it for complete.
     */
    static Mono<Void> brokenStream(Exchange ex) {
        ex.response.keepAlive(false);
        String contentType = ex.response.responseHeaders().get(HttpHeaderNames.CONTENT_TYPE);
        if (contentType != null && contentType.startsWith("text/event-stream")) {
            return Mono.empty();
        }
        return Mono.fromRunnable(() -> ex.request.withConnection(connection -> connection.dispose()));
    }

    // ---- Answering with keymux's own errors -------------------------------------------------------

    void addKeymuxHeaders(Exchange ex) {
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

    Mono<Void> fail(Exchange ex, KeymuxError error) {
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
