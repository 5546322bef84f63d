package io.keymux.server.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.config.model.UpstreamConfig;
import io.keymux.core.affinity.ObjectIds;
import io.keymux.core.health.AnswerClassifier;
import io.keymux.core.select.KeyBroker;
import io.keymux.core.select.KeyPreference;
import io.keymux.core.select.KeyRequest;
import io.keymux.core.select.Lease;
import io.keymux.core.select.Outcome;
import io.keymux.core.select.Rejection;
import io.keymux.core.time.TimeSource;
import io.keymux.server.affinity.AffinityStore;
import io.keymux.server.affinity.ListCursors;
import io.keymux.server.affinity.ListMerge;
import io.keymux.server.affinity.ListQuery;
import io.keymux.server.upstream.HeaderRewrite;
import io.keymux.server.upstream.UpstreamClients;
import io.keymux.server.upstream.UpstreamTarget;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A list request ({@code GET /v1/files}, {@code /v1/batches}, ...) of a task with several keys is
 * answered with the union of what every key's account holds (SPEC.md section 3.9): each key is
 * asked for one page (through the broker, so the request counts against the key's limits and waits
 * for it like any other), the pages are merged by {@link ListMerge}, and where the union stopped is
 * kept by {@link ListCursors} under the page's last id, so that the client's {@code after=<last id>}
 * continues each key exactly where it stood. A cursor keymux does not know (made on another
 * replica with the local backend, or forgotten) is found by walking the union from its start, in
 * pages of {@link ListQuery#SEEK_PAGE}, up to {@link #MAX_SEEK_PAGES}.
 *
 * <p>Every object listed is remembered against its key, so the retrieval that usually follows a
 * list goes straight to it. A disabled key is left out (its account cannot be reached); a key that
 * is rate limited or failing makes the whole list fail (429 or 502) rather than answer with holes;
 * a 4xx that is an answer (a bad filter, say), or a 2xx that is not a list, is passed on as the
 * provider wrote it.
 */
final class ListUnion {
    /** Pages walked, per key, while looking for a cursor keymux does not know. */
    static final int MAX_SEEK_PAGES = 50;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ProxyPipeline pipeline;
    private final KeymuxConfig config;
    private final KeyBroker broker;
    private final UpstreamClients upstreams;
    private final TimeSource time;
    private final RequestAccounting accounting;
    private final AffinityStore store;
    private final ListCursors cursors;

    ListUnion(ProxyPipeline pipeline, KeymuxConfig config, KeyBroker broker, UpstreamClients upstreams,
            TimeSource time, RequestAccounting accounting, AffinityStore store) {
        this.pipeline = pipeline;
        this.config = config;
        this.broker = broker;
        this.upstreams = upstreams;
        this.time = time;
        this.accounting = accounting;
        this.store = store;
        this.cursors = new ListCursors(store);
    }

    /** What one key gave for a page. */
    private sealed interface KeyAnswer {
        record Listed(ListMerge.KeyPage page, ObjectNode template) implements KeyAnswer {}

        /** Disabled: its account cannot be listed now. */
        record Skipped() implements KeyAnswer {}

        record Failed(Failure failure) implements KeyAnswer {}
    }

    /** How the list fails: keymux's own error, or the provider's answer passed on. */
    private sealed interface Failure {
        record Own(KeymuxError error) implements Failure {}

        record Relayed(int status, @Nullable String contentType, byte[] body) implements Failure {}
    }

    /** A page of the union, or why there is none. */
    private sealed interface Step {
        record Paged(ListMerge.Result result, ObjectNode template) implements Step {}

        record Failed(Failure failure) implements Step {}
    }

    /** Answers {@code ex}, a list request of {@code task} whose keys are {@code keys} (two or more, config order). */
    Mono<Void> answer(Exchange ex, TaskConfig task, String forwardPath, List<ApiKeyConfig> keys) {
        ListQuery query;
        try {
            query = ListQuery.parse(ex.rawQuery(), anthropicStyle(keys));
        } catch (IllegalArgumentException e) {
            return pipeline.fail(ex, KeymuxError.badRequest(e.getMessage()));
        }
        if (query.backwards()) {
            return pipeline.fail(ex, KeymuxError.badRequest("this list is the union of the keys of task '"
                    + task.name() + "', which keymux pages forwards only: use after, not before"));
        }
        String identity = query.listIdentity(forwardPath);
        String after = query.after();
        Mono<Start> start;
        if (after == null) {
            start = Mono.just(new Start.At(startCursors(keys)));
        } else {
            start = ProxyPipeline.onLoop(ex, () -> cursors.after(task.name(), identity, after))
                    .<Start>map(known -> new Start.At(forKeys(known, keys)))
                    .switchIfEmpty(Mono.defer(() -> seek(ex, task, forwardPath, query, keys, after,
                            startCursors(keys), 0)));
        }
        return start.flatMap(found -> {
            if (found instanceof Start.Broken broken) {
                return respondFailure(ex, broken.failure());
            }
            if (!(found instanceof Start.At at)) {
                return pipeline.fail(ex, KeymuxError.badRequest("the list cursor (" + query.cursorName()
                        + ") names no object of this list; list again from the start"));
            }
            return page(ex, task, forwardPath, query, keys, at.cursors(), query.limit())
                    .flatMap(step -> respond(ex, task, identity, step));
        });
    }

    /** Where a page starts: each key's cursor, or the client's cursor is in no page, or a key failed on the way. */
    private sealed interface Start {
        record At(Map<String, @Nullable String> cursors) implements Start {}

        record Missing() implements Start {}

        record Broken(Failure failure) implements Start {}
    }

    /**
     * Walks the union from {@code at} until the page holding {@code after}: the cursors right after
     * it, or {@link Start.Missing} when the list has no such object (within {@link #MAX_SEEK_PAGES}).
     */
    private Mono<Start> seek(Exchange ex, TaskConfig task, String forwardPath, ListQuery query,
            List<ApiKeyConfig> keys, String after, Map<String, @Nullable String> at, int walked) {
        return page(ex, task, forwardPath, query, keys, at, ListQuery.SEEK_PAGE).flatMap(step -> {
            if (step instanceof Step.Failed failed) {
                return Mono.just(new Start.Broken(failed.failure()));
            }
            ListMerge.Result result = ((Step.Paged) step).result();
            Map<String, @Nullable String> through = ListMerge.cursorsThrough(at, result.items(), after);
            if (through != null) {
                return Mono.just(new Start.At(through));
            }
            if (!result.hasMore() || walked + 1 >= MAX_SEEK_PAGES) {
                return Mono.just(new Start.Missing());
            }
            return seek(ex, task, forwardPath, query, keys, after, result.cursors(), walked + 1);
        });
    }

    /** One page of the union from {@code at}: each key asked at once, merged when all answered. */
    private Mono<Step> page(Exchange ex, TaskConfig task, String forwardPath, ListQuery query,
            List<ApiKeyConfig> keys, Map<String, @Nullable String> at, @Nullable Integer pageSize) {
        return Flux.fromIterable(keys)
                .flatMapSequential(key -> fetch(ex, task, forwardPath, query, key, at.get(key.keyId()), pageSize))
                .collectList()
                .map(answers -> {
                    List<ListMerge.KeyPage> pages = new ArrayList<>(answers.size());
                    ObjectNode template = null;
                    for (KeyAnswer answer : answers) {
                        if (answer instanceof KeyAnswer.Failed failed) {
                            return new Step.Failed(failed.failure());
                        }
                        if (answer instanceof KeyAnswer.Listed listed) {
                            pages.add(listed.page());
                            if (template == null) {
                                template = listed.template();
                            }
                        }
                    }
                    if (template == null) {
                        return new Step.Failed(new Failure.Own(KeymuxError.upstreamUnavailable("no key of task '"
                                + task.name() + "' can list now: every one is disabled (see GET /admin/keys)")));
                    }
                    return new Step.Paged(ListMerge.merge(pages, size(pageSize, pages), query.ascending()), template);
                });
    }

    /**
     * The union's page size: the client's {@code limit}; without one, the provider's own default as
     * its fullest page shows it (a key that has more sent a full page), or everything when no key has more.
     */
    private static int size(@Nullable Integer pageSize, List<ListMerge.KeyPage> pages) {
        if (pageSize != null) {
            return pageSize;
        }
        int fullest = 0;
        int all = 0;
        boolean more = false;
        for (ListMerge.KeyPage page : pages) {
            fullest = Math.max(fullest, page.items().size());
            all += page.items().size();
            more |= page.hasMore();
        }
        return Math.max(1, more ? fullest : all);
    }

    /** One key's page: a lease (waiting for the key like any request), one GET, its answer judged. */
    private Mono<KeyAnswer> fetch(Exchange ex, TaskConfig task, String forwardPath, ListQuery query,
            ApiKeyConfig key, @Nullable String cursor, @Nullable Integer pageSize) {
        KeyRequest request = new KeyRequest(task.name(), ex.client, 0, Set.of(), null,
                KeyPreference.pinned(key.keyId()));
        long asked = time.nanoTime();
        return ProxyPipeline.onLoop(ex, () -> broker.acquire(request)).flatMap(admission -> {
            accounting.queued(ex, admission, asked);
            if (admission instanceof Rejection rejection) {
                return Mono.just(rejected(rejection));
            }
            Lease lease = (Lease) admission;
            UpstreamConfig upstream = config.upstream(key.upstream()).orElse(null);
            if (upstream == null) {
                lease.settle(new Outcome.Unused());
                return Mono.just(failed(KeymuxError.upstreamUnavailable("key '" + key.keyId()
                        + "' names an upstream that is not configured")));
            }
            ex.attempts++;
            String secret = lease.key().apiKey().reveal();
            UpstreamTarget target = UpstreamTarget.of(upstream, forwardPath,
                    query.forKey(cursor, pageSize, anthropicStyle(upstream) ? "after_id" : "after"), secret);
            HttpHeaders headers = HeaderRewrite.towardsUpstream(ex.requestHeaders(), config.server().taskHeader(),
                    target, upstream.auth(), secret, ex.requestId, 0);
            long sent = time.nanoTime();
            return BufferedUpstreamCall.get(upstreams.on(ex.loop), task, target, headers)
                    .map(whole -> {
                        long latency = time.nanoTime() - sent;
                        accounting.upstreamHeaders(ex, sent);
                        accounting.upstreamLatency(ex, lease, latency);
                        return judge(task, key, lease, cursor, whole, latency);
                    })
                    .onErrorResume(FailoverPolicy::isTransportFailure, error -> {
                        accounting.upstreamHeaders(ex, sent);
                        lease.settle(FailoverPolicy.transportOutcome(error));
                        String what = "key '" + key.keyId() + "' did not answer the list ("
                                + FailoverPolicy.transportReason(error) + ")";
                        return Mono.just(failed(FailoverPolicy.isTimeout(error) ? KeymuxError.upstreamTimeout(what)
                                : KeymuxError.upstreamUnavailable(what)));
                    })
                    .doOnError(error -> lease.settle(new Outcome.Cancelled()))
                    .doOnCancel(() -> lease.settle(new Outcome.Cancelled()));
        });
    }

    private KeyAnswer judge(TaskConfig task, ApiKeyConfig key, Lease lease, @Nullable String cursor,
            BufferedUpstreamCall.Whole whole, long latency) {
        int status = whole.status();
        if (status / 100 == 2) {
            lease.settle(new Outcome.Answered(status, 0, 0, true, latency));
            JsonNode root = parse(whole.body());
            JsonNode data = root == null ? null : root.get("data");
            if (!(root instanceof ObjectNode object) || data == null || !data.isArray()) {
                // This upstream does not list here (another provider's API, a proxy in between):
                // its answer goes to the client as written rather than a union of nothing.
                return new KeyAnswer.Failed(new Failure.Relayed(status,
                        whole.headers().get(HttpHeaderNames.CONTENT_TYPE), whole.body()));
            }
            List<JsonNode> items = new ArrayList<>(data.size());
            data.forEach(items::add);
            boolean hasMore = object.path("has_more").asBoolean(false);
            return new KeyAnswer.Listed(new ListMerge.KeyPage(key.keyId(), cursor, items, hasMore), object);
        }
        byte[] body = whole.body();
        FailoverPolicy.Verdict verdict = FailoverPolicy.judge(task.retryOn(), status,
                name -> whole.headers().get(name), body, Math.min(body.length, AnswerClassifier.BODY_LOOK_BYTES),
                null, time.currentTimeMillis());
        Outcome outcome = verdict.outcome();
        if (outcome == null) {
            // An answer (a bad filter, a permission the key lacks): the client gets it as written.
            lease.settle(new Outcome.Answered(status, 0, 0, true, latency));
            return new KeyAnswer.Failed(new Failure.Relayed(status,
                    whole.headers().get(HttpHeaderNames.CONTENT_TYPE), body));
        }
        lease.settle(outcome);
        if (outcome instanceof Outcome.Unauthorized) {
            return new KeyAnswer.Skipped(); // the key is disabled now: its account is out of reach
        }
        String what = "key '" + key.keyId() + "' answered the list with status " + status
                + "; the list needs every key of task '" + task.name() + "'";
        if (outcome instanceof Outcome.RateLimited limited) {
            Duration wait = limited.retryAfter() != null ? limited.retryAfter() : Duration.ofSeconds(1);
            return failed(KeymuxError.allKeysExhausted(what, wait));
        }
        if (outcome instanceof Outcome.Overloaded overloaded) {
            Duration wait = overloaded.retryAfter() != null ? overloaded.retryAfter() : Duration.ofSeconds(1);
            return failed(KeymuxError.upstreamOverloaded(what, wait));
        }
        return failed(KeymuxError.upstreamUnavailable(what));
    }

    private static KeyAnswer rejected(Rejection rejection) {
        return switch (rejection.reason()) {
            case ALL_DISABLED, NO_UNTRIED_KEY -> new KeyAnswer.Skipped();
            case RATE_LIMITED -> failed(KeymuxError.allKeysExhausted(rejection.message(), rejection.retryAfter()));
            case UPSTREAM_OVERLOADED -> failed(KeymuxError.upstreamOverloaded(rejection.message(),
                    rejection.retryAfter()));
        };
    }

    private static KeyAnswer failed(KeymuxError error) {
        return new KeyAnswer.Failed(new Failure.Own(error));
    }

    // ---- The answer ---------------------------------------------------------------------------------

    private Mono<Void> respond(Exchange ex, TaskConfig task, String identity, Step step) {
        if (step instanceof Step.Failed failed) {
            return respondFailure(ex, failed.failure());
        }
        Step.Paged paged = (Step.Paged) step;
        ListMerge.Result result = paged.result();
        List<ListMerge.Entry> items = result.items();
        ObjectNode out = paged.template().deepCopy();
        ArrayNode data = out.putArray("data");
        for (ListMerge.Entry entry : items) {
            data.add(entry.item());
            String id = ListMerge.idOf(entry.item());
            if (id != null && ObjectIds.looksLikeObjectId(id)) {
                store.remember(id, entry.keyId()); // a list is usually followed by a retrieval
            }
        }
        out.put("has_more", result.hasMore());
        String first = items.isEmpty() ? null : ListMerge.idOf(items.get(0).item());
        String last = items.isEmpty() ? null : ListMerge.idOf(items.get(items.size() - 1).item());
        if (out.has("first_id")) {
            out.put("first_id", first);
        }
        if (out.has("last_id")) {
            out.put("last_id", last);
        }
        if (last != null) {
            cursors.remember(task.name(), identity, last, result.cursors());
        }
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(out);
        } catch (JsonProcessingException e) {
            return Mono.error(new IOException("cannot write the list union", e));
        }
        return send(ex, 200, "application/json", body);
    }

    private Mono<Void> respondFailure(Exchange ex, Failure failure) {
        if (failure instanceof Failure.Relayed relayed) {
            return send(ex, relayed.status(), relayed.contentType(), relayed.body());
        }
        return pipeline.fail(ex, ((Failure.Own) failure).error());
    }

    private Mono<Void> send(Exchange ex, int status, @Nullable String contentType, byte[] body) {
        ex.response.status(HttpResponseStatus.valueOf(status));
        if (contentType != null) {
            ex.response.responseHeaders().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        }
        ex.response.responseHeaders().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        ex.status = status;
        ex.firstByteNanos = time.nanoTime();
        pipeline.addKeymuxHeaders(ex);
        return ex.response.sendByteArray(Mono.just(body)).then();
    }

    // ---- Cursors --------------------------------------------------------------------------------------

    /** Every key at its start. */
    private static Map<String, @Nullable String> startCursors(List<ApiKeyConfig> keys) {
        Map<String, @Nullable String> at = new LinkedHashMap<>();
        keys.forEach(key -> at.put(key.keyId(), null));
        return at;
    }

    /** Known cursors for today's keys: a key added since starts at its beginning, a removed one is gone. */
    private static Map<String, @Nullable String> forKeys(Map<String, @Nullable String> known, List<ApiKeyConfig> keys) {
        Map<String, @Nullable String> at = new LinkedHashMap<>();
        keys.forEach(key -> at.put(key.keyId(), known.get(key.keyId())));
        return at;
    }

    /** Anthropic pages with {@code after_id}: its keys' upstream takes the key in {@code x-api-key}. */
    private boolean anthropicStyle(List<ApiKeyConfig> keys) {
        return anthropicStyle(config.upstream(keys.get(0).upstream()).orElse(null));
    }

    private static boolean anthropicStyle(@Nullable UpstreamConfig upstream) {
        return upstream != null && upstream.auth().kind() == AuthStyle.Kind.HEADER
                && "x-api-key".equalsIgnoreCase(upstream.auth().name());
    }

    private static @Nullable JsonNode parse(byte[] body) {
        try {
            return body.length == 0 ? null : JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }
}
