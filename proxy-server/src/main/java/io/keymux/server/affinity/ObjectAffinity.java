package io.keymux.server.affinity;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.KeymuxConfig;
import io.keymux.config.model.TaskConfig;
import io.keymux.core.affinity.ObjectIds;
import io.keymux.core.affinity.PromptDigest;
import io.keymux.core.affinity.Rendezvous;
import io.keymux.core.select.KeyPreference;
import io.keymux.server.metrics.ProxyMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Which key a request must or would rather go to (SPEC.md section 3.9), one instance per process,
 * kept across reloads with its {@link AffinityStore}:
 *
 * <ul>
 *   <li>{@link #resolve}: a request naming a known object is {@link Decision.Pinned} to the key that
 *       holds it ({@link Decision.Removed} if that key left the config); one naming only unknown ids
 *       is a {@link Decision.Search} over the task's keys; others are {@link Decision#NONE}.</li>
 *   <li>{@link #promptOrder}: with {@code prompt_affinity: on}, the rendezvous order of the task's
 *       keys for the request's {@code prompt_cache_key} or stable-prompt digest.</li>
 *   <li>{@link #watch}: what to remember (or forget) from an attempt's answer.</li>
 * </ul>
 *
 * {@code keymux_affinity_total{task,result}} counts each decision.
 */
public final class ObjectAffinity {
    static final String PINNED = "pinned";
    static final String DISCOVERED = "discovered";
    static final String UNKNOWN = "unknown";
    static final String KEY_REMOVED = "key_removed";
    static final String PROMPT_PREFERRED = "prompt_preferred";
    static final String PROMPT_MOVED = "prompt_moved";

    private final AffinityStore store;
    private final ProxyMetrics metrics;

    public ObjectAffinity(AffinityStore store, ProxyMetrics metrics) {
        this.store = Objects.requireNonNull(store, "store");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    /** The map. */
    public AffinityStore store() {
        return store;
    }

    void count(String task, String result) {
        metrics.affinity(task, result);
    }

    /** Where a request naming provider objects goes. */
    public sealed interface Decision {
        /** Names no object: the strategy (or prompt affinity) chooses. */
        Decision NONE = new None();

        /** No object named. */
        record None() implements Decision {}

        /** Only {@code keyId} may serve it. */
        record Pinned(String keyId) implements Decision {}

        /** The key holding the object is no longer configured: 409 {@code resource_key_removed}. */
        record Removed(String keyId, String objectId) implements Decision {}

        /** Nobody knows these ids: try the task's keys in turn until one does not say "not found". */
        record Search(List<String> ids) implements Decision {}
    }

    /**
     * The decision for a request naming {@code pathIds} and {@code bodyIds}: the first id the map
     * knows decides. Completes on whatever thread the store answers on; never fails.
     */
    public CompletableFuture<Decision> resolve(KeymuxConfig config, String task, List<String> pathIds,
            List<String> bodyIds) {
        if (pathIds.isEmpty() && bodyIds.isEmpty()) {
            return CompletableFuture.completedFuture(Decision.NONE);
        }
        List<String> ids = new ArrayList<>(pathIds.size() + bodyIds.size());
        ids.addAll(pathIds);
        for (String id : bodyIds) {
            if (!ids.contains(id)) {
                ids.add(id);
            }
        }
        return lookUp(ids, 0).thenApply(found -> {
            if (found == null) {
                count(task, UNKNOWN);
                return new Decision.Search(List.copyOf(ids));
            }
            String keyId = found[1];
            for (ApiKeyConfig key : config.apiKeys()) {
                if (key.keyId().equals(keyId)) {
                    count(task, PINNED);
                    return new Decision.Pinned(keyId);
                }
            }
            count(task, KEY_REMOVED);
            return new Decision.Removed(keyId, found[0]);
        });
    }

    /** {@code [id, keyId]} of the first id from {@code from} on that the map knows, or {@code null}. */
    private CompletableFuture<String @Nullable []> lookUp(List<String> ids, int from) {
        if (from >= ids.size()) {
            return CompletableFuture.completedFuture(null);
        }
        String id = ids.get(from);
        return store.keyOf(id).thenCompose(keyId -> keyId != null
                ? CompletableFuture.completedFuture(new String[] {id, keyId})
                : lookUp(ids, from + 1));
    }

    /**
     * Prompt affinity's preference: the task's own keys in rendezvous order for the request's
     * {@code prompt_cache_key}, else its stable-prompt digest; none when the task has it off or the
     * request carries neither.
     */
    public static KeyPreference promptOrder(KeymuxConfig config, TaskConfig task, @Nullable String promptCacheKey,
            long promptDigest) {
        if (!task.promptAffinity()) {
            return KeyPreference.NONE;
        }
        long digest;
        if (promptCacheKey != null && !promptCacheKey.isEmpty()) {
            PromptDigest d = new PromptDigest();
            d.add("prompt_cache_key");
            d.add(promptCacheKey);
            digest = d.value();
        } else {
            digest = promptDigest;
        }
        if (digest == 0) {
            return KeyPreference.NONE;
        }
        List<String> keys = new ArrayList<>();
        for (ApiKeyConfig key : config.apiKeys()) {
            if (key.taskTypes().contains(task.name())) {
                keys.add(key.keyId());
            }
        }
        return KeyPreference.ordered(Rendezvous.order(digest, keys));
    }

    /** Counts whether prompt affinity got its preferred key. */
    public void promptRouted(String task, KeyPreference order, String keyId) {
        if (!order.isNone()) {
            count(task, order.order().get(0).equals(keyId) ? PROMPT_PREFERRED : PROMPT_MOVED);
        }
    }

    /**
     * The watch of one attempt's answer on {@code keyId}, or {@code null} when nothing in it can
     * matter (an answer on a path that creates no objects, to a request that searched for none).
     *
     * @param searched ids of an unknown-id search, remembered on this key if it answers 2xx
     */
    public @Nullable AnswerWatch watch(String task, String keyId, String method, String path, boolean store, List<String> pathIds, List<String> searched) {
        boolean delete = method.equals("DELETE");
        boolean scan = !delete && PathIds.createsObjects(path, store);
        if (!scan && searched.isEmpty() && !(delete && !pathIds.isEmpty())) {
            return null;
        }
        return new ObjectWatch(this, task, keyId, delete, store, scan, pathIds, searched);
    }

    /** Whether any of {@code ids} looks like a provider object (for a cheap test before a lookup). */
    static boolean anyObjectId(List<String> ids) {
        for (String id : ids) {
            if (ObjectIds.looksLikeObjectId(id)) {
                return true;
            }
        }
        return false;
    }
}
