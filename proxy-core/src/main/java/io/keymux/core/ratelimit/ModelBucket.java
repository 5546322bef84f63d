package io.keymux.core.ratelimit;

import io.keymux.config.model.ModelLimits;
import io.keymux.core.classify.Glob;
import io.keymux.core.time.TimeSource;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The RPM/TPM buckets one key has for the models matching one pattern ({@code api_keys[].models}),
 * within the key-wide buckets that still apply. The request's {@code model} picks the first
 * bucket whose glob matches ({@link #first}); a request with no model, or one no pattern matches,
 * uses only the key-wide buckets.
 *
 * <p>Like {@link KeyLimits}, not thread-safe by itself: the broker calls it under the key's lock.
 *
 * <pre>{@code
 * ModelBucket[] buckets = ModelBucket.of(key.models(), time);
 * ModelBucket b = ModelBucket.first(buckets, "gpt-4o-mini-2024-07-18");   // "gpt-4o-mini*"
 * }</pre>
 */
public final class ModelBucket {
    private final String pattern;
    private final Glob glob;
    private ModelLimits config;
    private final LocalKeyLimits limits;

    private ModelBucket(ModelLimits config, TimeSource time) {
        this.pattern = config.pattern();
        this.glob = Glob.of(config.pattern());
        this.config = config;
        this.limits = new LocalKeyLimits(config.maxRpm(), null, config.maxTpm(), null, time);
    }

    /** One bucket per pattern, in declaration order. */
    public static ModelBucket[] of(java.util.List<ModelLimits> models, TimeSource time) {
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(time, "time");
        ModelBucket[] out = new ModelBucket[models.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = new ModelBucket(models.get(i), time);
        }
        return out;
    }

    /**
     * The buckets of a reloaded key: a pattern that stays keeps its bucket (its fill
     * proportionally to the new limits, as for key-wide limits); a new pattern starts full.
     */
    public static ModelBucket[] reconfigure(ModelBucket[] current, java.util.List<ModelLimits> next, TimeSource time) {
        ModelBucket[] out = new ModelBucket[next.size()];
        for (int i = 0; i < out.length; i++) {
            ModelLimits limits = next.get(i);
            ModelBucket kept = null;
            for (ModelBucket b : current) {
                if (b.pattern.equals(limits.pattern())) {
                    kept = b;
                    break;
                }
            }
            if (kept != null) {
                kept.limits.reconfigure(limits.maxRpm(), null, limits.maxTpm(), null);
                kept.config = limits;
                out[i] = kept;
            } else {
                out[i] = new ModelBucket(limits, time);
            }
        }
        return out;
    }

    /** The first bucket whose pattern matches {@code model}; {@code null} when none does or there is no model. */
    public static @Nullable ModelBucket first(ModelBucket[] buckets, @Nullable String model) {
        if (model == null || buckets.length == 0) {
            return null;
        }
        for (ModelBucket b : buckets) {
            if (b.matches(model)) {
                return b;
            }
        }
        return null;
    }

    /** Whether this bucket's pattern matches {@code model}. */
    public boolean matches(String model) {
        return glob.matches(model);
    }

    /** The glob as configured, for example {@code gpt-4o-mini*}. */
    public String pattern() {
        return pattern;
    }

    /** The configured limits. */
    public ModelLimits config() {
        return config;
    }

    /** The buckets themselves. */
    public KeyLimits limits() {
        return limits;
    }

    @Override
    public String toString() {
        return "ModelBucket[" + pattern + "]";
    }
}
