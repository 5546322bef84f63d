package io.keymux.server.websocket;

import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import io.keymux.core.auth.AuthDecision;
import io.keymux.core.auth.AuthFailures;
import io.keymux.core.auth.ClientAuthenticator;
import io.keymux.core.classify.Classification;
import io.keymux.core.classify.RequestFacts;
import io.keymux.core.classify.TaskClassifier;
import io.keymux.core.ratelimit.ClientDecision;
import io.keymux.core.ratelimit.ProviderLimits;
import io.keymux.core.select.Admission;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.core.time.TimeSource;
import io.keymux.server.audit.AuditLog;
import io.keymux.server.audit.AuditRecord;
import io.keymux.server.guard.LoopDelay;
import io.keymux.server.metrics.ProxyMetrics;
import io.keymux.server.pipeline.FailoverPolicy;
import io.keymux.server.pipeline.KeymuxError;
import io.keymux.server.upstream.HeaderRewrite;
import io.keymux.server.upstream.UpstreamClients;
import io.keymux.server.upstream.UpstreamTarget;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.WebsocketServerSpec;

/**
 * The path of a request with {@code Upgrade: websocket} (SPEC.md section 3.10), top to bottom:
 *
 * <ol>
 *   <li>authenticate the client by {@code Authorization}, {@code x-api-key}, {@code api-key} or the
 *   browser's {@code openai-insecure-api-key.<key>} subprotocol ({@link Subprotocols});</li>
 *   <li>classify into a task as any request (header, {@code /tasks/{task}} prefix, rules; the model
 *   is the query's {@code model}), check the client may use it and its own limit;</li>
 *   <li>the attempt loop: a key from the broker (one request of its RPM and one of its
 *   {@code max_concurrent}, held for the session's life), the upgrade offered upstream with that
 *   key in the upstream's auth style ({@link UpstreamSocket}); a refused upgrade is judged by
 *   {@link FailoverPolicy} like any answer and fails over, or goes back to the client;</li>
 *   <li>on the upstream's 101, the client's upgrade is accepted with the subprotocol the upstream
 *   chose, and the {@link WebSocketSession} relays until either side ends it.</li>
 * </ol>
 *
 * Answers it gives itself are SPEC.md section 4's JSON errors. Everything touching the exchange runs
 * on the client connection's event loop; broker answers hop back to it.
 */
public final class WebSocketProxy {
    private final KeymuxConfig config;
    private final ClientAuthenticator authenticator;
    private final TaskClassifier classifier;
    private final KeyBroker broker;
    private final UpstreamClients upstreams;
    private final TimeSource time;
    private final ProxyMetrics metrics;
    /** Wrong client keys per address, shared with the plain requests' (kept across reloads). */
    private final AuthFailures authFailures;
    private final AuditLog audit;

    /** The WebSocket path for one configuration, with the pipeline's broker, upstream pools and metrics. */
    public WebSocketProxy(KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams, TimeSource time,
            ProxyMetrics metrics, AuditLog audit, AuthFailures authFailures) {
        this.authFailures = Objects.requireNonNull(authFailures, "authFailures");
        this.config = Objects.requireNonNull(config, "config");
        this.authenticator = ClientAuthenticator.of(config);
        this.classifier = TaskClassifier.of(config);
        this.broker = Objects.requireNonNull(broker, "broker");
        this.upstreams = Objects.requireNonNull(upstreams, "upstreams");
        this.time = Objects.requireNonNull(time, "time");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.audit = Objects.requireNonNull(audit, "audit");
    }

    /** Serves one upgrade request; completes when the refusal is sent or the session is over. */
    public Mono<Void> apply(HttpServerRequest request, HttpServerResponse response, String requestId) {
        EventLoop[] own = {null};
        request.withConnection(connection -> own[0] = connection.channel().eventLoop());
        String uri = request.uri();
        int q = uri.indexOf('?');
        Upgrade up = new Upgrade(request, response, Objects.requireNonNull(own[0], "loop"),
                new SessionRecord(requestId, AuditRecord.addressOf(request.remoteAddress()),
                        q < 0 ? uri : uri.substring(0, q), time.nanoTime(), time.currentTimeMillis()),
                q < 0 ? null : uri.substring(q + 1), Subprotocols.of(request.requestHeaders()));
        return Mono.defer(() -> handle(up)).onErrorResume(error -> {
            if (!up.finished) {
                up.finished = true;
                if (up.record.status == 0) {
                    up.record.status = 499;
                }
                up.record.finish(time.nanoTime(), metrics, audit);
            }
            return Mono.empty();
        });
    }

    /** One upgrade request as it moves along. */
    private static final class Upgrade {
        final HttpServerRequest request;
        final HttpServerResponse response;
        final EventLoop loop;
        final SessionRecord record;
        final @Nullable String rawQuery;
        final Subprotocols subprotocols;
        /** The audit line is written (by a refusal, or by the session). */
        boolean finished;

        Upgrade(HttpServerRequest request, HttpServerResponse response, EventLoop loop, SessionRecord record,
                @Nullable String rawQuery, Subprotocols subprotocols) {
            this.request = request;
            this.response = response;
            this.loop = loop;
            this.record = record;
            this.rawQuery = rawQuery;
            this.subprotocols = subprotocols;
        }
    }

    private Mono<Void> handle(Upgrade up) {
        HttpHeaders headers = up.request.requestHeaders();
        AuthDecision auth = authenticator.authenticate(presentedKey(headers, up.subprotocols),
                isLoopback(up.request.remoteAddress()));
        if (auth instanceof AuthDecision.Refused refused) {
            KeymuxError error = new KeymuxError(401, "invalid_client_key", refused.message(), null, false);
            // Counted with the plain requests' failures: an upgrade is no way around the slow-down.
            Duration hold = authFailures.failed(AuditRecord.addressOf(up.request.remoteAddress()));
            return LoopDelay.of(up.loop, hold).then(Mono.defer(() -> fail(up, error)));
        }
        AuthDecision.Admitted admitted = (AuthDecision.Admitted) auth;
        up.record.client = admitted.clientName();
        if (!HttpMethod.GET.equals(up.request.method()) || !headers.contains(HttpHeaderNames.SEC_WEBSOCKET_KEY)
                || !"13".equals(headers.get(HttpHeaderNames.SEC_WEBSOCKET_VERSION, "").trim())) {
            return fail(up, new KeymuxError(400, "bad_request", "a WebSocket upgrade is a GET with Sec-WebSocket-Key"
                    + " and Sec-WebSocket-Version: 13 (RFC 6455)", null, false));
        }
        String model = queryParameter(up.rawQuery, "model");
        Classification classification = classifier.classify(new RequestFacts(
                headers.get(config.server().taskHeader()), up.record.path, model, headers::get));
        if (!(classification instanceof Classification.Classified classified)) {
            return fail(up, classificationError(classification));
        }
        up.record.task = classified.task();
        if (!admitted.mayUse(classified.task())) {
            return fail(up, new KeymuxError(403, "task_forbidden", "client '" + admitted.clientName()
                    + "' may not use task '" + classified.task() + "' (see clients[].allowed_tasks)", null, false));
        }
        if (broker.clients().admit(admitted.clientName()) instanceof ClientDecision.Refused refused) {
            return fail(up, new KeymuxError(429, refused.code(), refused.message(), refused.retryAfter(), false));
        }
        TaskConfig task = config.task(classified.task()).orElseThrow();
        return attempt(up, task, classified.forwardPath(), model, 1, Set.of(), null);
    }

    // ---- The attempt loop -----------------------------------------------------------------------------

    private Mono<Void> attempt(Upgrade up, TaskConfig task, String forwardPath, @Nullable String model, int number,
            Set<String> tried, @Nullable KeymuxError last) {
        if (number > task.maxAttempts()) {
            return fail(up, Objects.requireNonNull(last, "last"));
        }
        KeyRequest keyRequest = new KeyRequest(task.name(), up.record.client == null ? ClientAuthenticator.ANONYMOUS
                : up.record.client, 0, tried, model);
        return onLoop(up.loop, () -> broker.acquire(keyRequest)).flatMap(admission -> {
            if (admission instanceof Rejection rejection) {
                return fail(up, rejectionError(rejection, last));
            }
            Lease lease = (Lease) admission;
            up.record.attempts = number;
            Set<String> nowTried = new HashSet<>(tried);
            nowTried.add(lease.key().keyId());
            return offer(up, task, forwardPath, model, lease).flatMap(failure -> {
                // Only a retryable failure comes back: try another key.
                if (number < task.maxAttempts()) {
                    metrics.failover(task.name(), failure.reason());
                }
                return attempt(up, task, forwardPath, model, number + 1, nowTried, failure.error());
            });
        });
    }

    /** Why an attempt failed over, and what the client gets if it was the last. */
    private record Failure(KeymuxError error, String reason) {}

    /** One key: offer the upgrade upstream; empty once the client is answered, a {@link Failure} to retry. */
    private Mono<Failure> offer(Upgrade up, TaskConfig task, String forwardPath, @Nullable String model, Lease lease) {
        UpstreamConfig upstream = config.upstream(lease.key().upstream()).orElse(null);
        if (upstream == null) {
            lease.settle(new Outcome.Cancelled());
            return Mono.just(new Failure(unavailable("key '" + lease.key().keyId()
                    + "' names an upstream that is not configured"), FailoverPolicy.CONNECT_ERROR));
        }
        up.record.keyId = lease.key().keyId();
        up.record.upstream = upstream.name();
        String key = lease.key().apiKey().reveal();
        UpstreamTarget target = UpstreamTarget.of(upstream, forwardPath, up.rawQuery, key);
        HttpHeaders headers = HeaderRewrite.towardsUpstream(up.request.requestHeaders(), config.server().taskHeader(),
                target, upstream.auth(), key, up.record.requestId, 0);
        // The handshaker writes its own key, version and offer; extensions (compression) are not
        // offered, so frames pass through as they are.
        headers.remove(HttpHeaderNames.SEC_WEBSOCKET_KEY);
        headers.remove(HttpHeaderNames.SEC_WEBSOCKET_VERSION);
        headers.remove(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL);
        headers.remove(HttpHeaderNames.SEC_WEBSOCKET_EXTENSIONS);
        headers.remove(HttpHeaderNames.ACCEPT_ENCODING);
        long sent = time.nanoTime();
        Mono<UpstreamSocket.Handshake> answered = Mono.create(sink -> {
            io.netty.util.concurrent.Future<UpstreamSocket.Handshake> future = UpstreamSocket.open(
                    upstreams.on(up.loop), target, headers, up.subprotocols.upstreamOffer(), maxFrameBytes(),
                    task.timeouts().connect(), task.timeouts().firstByte());
            future.addListener(done -> {
                if (done.isSuccess()) {
                    sink.success(future.getNow());
                } else {
                    sink.error(done.cause());
                }
            });
            sink.onCancel(() -> future.addListener(done -> {
                if (done.isSuccess() && future.getNow() instanceof UpstreamSocket.Handshake.Accepted accepted) {
                    accepted.socket().abandon();
                }
            }));
        });
        return answered.doOnCancel(() -> lease.settle(new Outcome.Cancelled())).flatMap(handshake -> {
            long latency = time.nanoTime() - sent;
            if (handshake instanceof UpstreamSocket.Handshake.Accepted accepted) {
                return accept(up, task, lease, accepted, latency).then(Mono.<Failure>empty());
            }
            return refused(up, task, model, lease, (UpstreamSocket.Handshake.Refused) handshake, latency);
        }).onErrorResume(FailoverPolicy::isTransportFailure, error -> {
            lease.settle(FailoverPolicy.transportOutcome(error));
            KeymuxError keymuxError = FailoverPolicy.isTimeout(error)
                    ? new KeymuxError(504, "upstream_timeout", "the upstream did not answer the WebSocket upgrade in"
                            + " time for task '" + task.name() + "' (tasks[].timeouts)", null, false)
                    : unavailable("could not reach the upstream for task '" + task.name() + "'");
            if (!FailoverPolicy.retriesTransport(task.retryOn(), error)) {
                return fail(up, keymuxError).then(Mono.empty());
            }
            return Mono.just(new Failure(keymuxError, FailoverPolicy.transportReason(error)));
        });
    }

    /** The upstream said 101: accept the client's upgrade with the subprotocol it chose, then relay. */
    private Mono<Void> accept(Upgrade up, TaskConfig task, Lease lease, UpstreamSocket.Handshake.Accepted accepted,
            long handshakeNanos) {
        if (!clientConnected(up)) {
            // The client left while the upstream answered: nobody to relay for.
            lease.settle(new Outcome.Cancelled());
            accepted.socket().abandon();
            up.record.status = 499;
            up.finished = true;
            up.record.finish(time.nanoTime(), metrics, audit);
            return Mono.empty();
        }
        SessionRecord record = up.record;
        record.status = 101;
        record.acceptedNanos = time.nanoTime();
        up.finished = true; // from here on the session writes the audit line
        HttpHeaders out = up.response.responseHeaders();
        out.set("X-Keymux-Task", task.name());
        if (config.server().exposeKeyId()) {
            out.set("X-Keymux-Key-Id", lease.key().keyId());
        }
        out.set("X-Keymux-Attempts", Integer.toString(record.attempts));
        out.set("X-Request-Id", record.requestId);
        WebsocketServerSpec.Builder spec = WebsocketServerSpec.builder()
                .maxFramePayloadLength(maxFrameBytes())
                // Pings and pongs are the two ends' business: relayed, not answered here.
                .handlePing(true);
        if (accepted.subprotocol() != null && !accepted.subprotocol().isEmpty()) {
            spec.protocols(accepted.subprotocol());
        }
        WebSocketSession session = new WebSocketSession(record, lease, accepted.socket(), metrics, audit, time,
                up.loop, task.timeouts().idle(), config.server().maxWebsocketSession(), handshakeNanos);
        return up.response.sendWebsocket(session::run, spec.build())
                .doFinally(signal -> session.neverStarted(400));
    }

    /** A refused upgrade: fail over like any answer, or hand the upstream's answer to the client. */
    private Mono<Failure> refused(Upgrade up, TaskConfig task, @Nullable String model, Lease lease,
            UpstreamSocket.Handshake.Refused refused, long latency) {
        long now = time.currentTimeMillis();
        HttpHeaders headers = refused.headers();
        lease.observe(ProviderLimits.parse(name -> headers.get(name), now));
        FailoverPolicy.Verdict verdict = FailoverPolicy.judge(task.retryOn(), refused.status(),
                name -> headers.get(name), refused.body(), refused.body().length, model, now);
        Outcome outcome = verdict.outcome() != null ? verdict.outcome()
                : new Outcome.Answered(refused.status(), 0, 0, false, latency);
        lease.settle(outcome);
        if (verdict.retry()) {
            return Mono.just(new Failure(statusError(task, refused.status(), verdict), verdict.reason()));
        }
        // Passed through unchanged, as any other answer that is not retried.
        HttpServerResponse response = up.response;
        response.status(HttpResponseStatus.valueOf(refused.status()));
        HeaderRewrite.towardsClient(headers, response.responseHeaders());
        response.responseHeaders().remove(HttpHeaderNames.TRANSFER_ENCODING);
        response.responseHeaders().set(HttpHeaderNames.CONTENT_LENGTH, refused.body().length);
        return answer(up, refused.status(), refused.body()).then(Mono.empty());
    }

    /** What the client gets when a refused upgrade was the last attempt (as for HTTP answers). */
    private static KeymuxError statusError(TaskConfig task, int status, FailoverPolicy.Verdict verdict) {
        Outcome outcome = verdict.outcome();
        if (outcome instanceof Outcome.Unauthorized) {
            return unavailable("the upstream refused the key of task '" + task.name() + "' (" + status
                    + ") and no other key could answer; check the keys in the config");
        }
        if (outcome instanceof Outcome.QuotaExhausted) {
            return new KeymuxError(429, "all_keys_exhausted", "the upstream says the key tried for task '"
                    + task.name() + "' is out of quota (" + status + ") and no other key could answer",
                    task.health().quotaProbe(), false);
        }
        if (outcome instanceof Outcome.Overloaded overloaded) {
            Duration retryAfter = task.health().overloadBackoff();
            if (overloaded.retryAfter() != null && overloaded.retryAfter().compareTo(retryAfter) > 0) {
                retryAfter = overloaded.retryAfter();
            }
            return new KeymuxError(503, "upstream_overloaded", "the upstream of task '" + task.name()
                    + "' says it is overloaded (" + status + ") and no key of another upstream could answer",
                    retryAfter, false);
        }
        if (outcome instanceof Outcome.RateLimited limited) {
            Duration retryAfter = limited.retryAfter() != null ? limited.retryAfter() : task.health().rateLimitCooldown();
            return new KeymuxError(429, "all_keys_exhausted", "every key tried for task '" + task.name()
                    + "' is rate limited by the upstream (429); retry after the Retry-After delay", retryAfter, false);
        }
        return unavailable("the upstream answered the WebSocket upgrade with " + status + " on every attempt for task '"
                + task.name() + "'");
    }

    private static KeymuxError rejectionError(Rejection rejection, @Nullable KeymuxError last) {
        return switch (rejection.reason()) {
            case RATE_LIMITED -> new KeymuxError(429, "all_keys_exhausted", rejection.message(),
                    rejection.retryAfter(), false);
            case ALL_DISABLED -> unavailable(rejection.message());
            case NO_UNTRIED_KEY -> last != null ? last : unavailable(rejection.message());
            case UPSTREAM_OVERLOADED -> new KeymuxError(503, "upstream_overloaded", rejection.message(),
                    rejection.retryAfter(), false);
        };
    }

    private KeymuxError classificationError(Classification classification) {
        if (classification instanceof Classification.UnknownTask unknown) {
            return new KeymuxError(400, "unknown_task", "unknown task '" + unknown.name() + "' (known tasks: "
                    + String.join(", ", unknown.known()) + ")", null, false);
        }
        if (classification instanceof Classification.BadRequest bad) {
            return new KeymuxError(400, "bad_request", bad.message(), null, false);
        }
        return new KeymuxError(400, "no_task_matched", "no task matched this request: send the "
                + config.server().taskHeader() + " header, use a /tasks/{task}/ path prefix, or set default_task",
                null, false);
    }

    private static KeymuxError unavailable(String message) {
        return new KeymuxError(502, "upstream_unavailable", message, null, false);
    }

    // ---- Answers that are not a session -----------------------------------------------------------

    private Mono<Void> fail(Upgrade up, KeymuxError error) {
        HttpServerResponse response = up.response;
        response.status(error.status());
        response.responseHeaders().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        String retryAfter = error.retryAfterSeconds();
        if (retryAfter != null) {
            response.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, retryAfter);
        }
        byte[] body = error.body();
        response.responseHeaders().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return answer(up, error.status(), body);
    }

    /** Sends a non-101 answer (the connection stays an HTTP one) and writes the audit line. */
    private Mono<Void> answer(Upgrade up, int status, byte[] body) {
        HttpServerResponse response = up.response;
        SessionRecord record = up.record;
        if (record.task != null) {
            response.responseHeaders().set("X-Keymux-Task", record.task);
        }
        if (record.keyId != null && config.server().exposeKeyId()) {
            response.responseHeaders().set("X-Keymux-Key-Id", record.keyId);
        }
        if (record.attempts > 0) {
            response.responseHeaders().set("X-Keymux-Attempts", Integer.toString(record.attempts));
        }
        response.responseHeaders().set("X-Request-Id", record.requestId);
        record.status = status;
        record.acceptedNanos = time.nanoTime();
        up.finished = true;
        record.finish(time.nanoTime(), metrics, audit);
        return response.sendByteArray(Mono.just(body)).then();
    }

    // ---- Small helpers -----------------------------------------------------------------------------

    /** The client key: a credential header first, else the browser's key subprotocol. */
    private static @Nullable String presentedKey(HttpHeaders headers, Subprotocols subprotocols) {
        String authorization = headers.get(HttpHeaderNames.AUTHORIZATION);
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).trim();
        }
        String key = headers.get("x-api-key");
        if (key == null) {
            key = headers.get("api-key");
        }
        return key != null ? key : subprotocols.clientKey();
    }

    private static boolean isLoopback(@Nullable SocketAddress address) {
        return address instanceof InetSocketAddress inet && inet.getAddress() != null
                && inet.getAddress().isLoopbackAddress();
    }

    private static @Nullable String queryParameter(@Nullable String rawQuery, String name) {
        if (rawQuery == null || rawQuery.isEmpty()) {
            return null;
        }
        Map<String, List<String>> parameters = new QueryStringDecoder(rawQuery, false).parameters();
        List<String> values = parameters.get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    private int maxFrameBytes() {
        return (int) Math.min(Integer.MAX_VALUE, config.server().maxBodyBytes());
    }

    private static boolean clientConnected(Upgrade up) {
        boolean[] active = {false};
        up.request.withConnection(connection -> active[0] = connection.channel().isActive());
        return active[0];
    }

    /** A broker answer on the exchange's loop; cancelling leaves the broker's queue. */
    private static <T> Mono<T> onLoop(EventLoop loop, java.util.function.Supplier<CompletableFuture<T>> call) {
        return Mono.create(sink -> {
            CompletableFuture<T> future = call.get();
            sink.onCancel(() -> future.cancel(true));
            future.whenComplete((value, error) -> {
                Runnable emit = () -> {
                    if (error != null) {
                        sink.error(error);
                    } else {
                        sink.success(value);
                    }
                };
                if (loop.inEventLoop()) {
                    emit.run();
                } else {
                    loop.execute(emit);
                }
            });
        });
    }
}
