package io.keymux.core.ratelimit;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.github.bucket4j.local.SynchronizationStrategy;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.core.time.TimeSource;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Two Bucket4j buckets per key. Buckets use {@link SynchronizationStrategy#NONE}: the broker's per-key
 * lock already serialises every call, so Bucket4j's own CAS would only cost time.
 */
final class LocalKeyLimits implements KeyLimits {
    private static final Duration MINUTE = Duration.ofMinutes(1);

    /**
     * Bucket4j refills at most one token per nanosecond; a limit above that (6e10 a minute) cannot
     * bind in practice and is treated as unlimited rather than failing at startup.
     */
    static final long MAX_PER_MINUTE = 60_000_000_000L;

    private final BucketClock clock;
    private @Nullable Bucket requests;
    private @Nullable Bucket tokens;
    private long requestCapacity;
    private long tokenCapacity;

    LocalKeyLimits(ApiKeyConfig key, TimeSource time) {
        this(key.maxRpm(), key.rpmBurst(), key.maxTpm(), key.tpmBurst(), time);
    }

    LocalKeyLimits(@Nullable Long maxRpm, @Nullable Long rpmBurst, @Nullable Long maxTpm, @Nullable Long tpmBurst,
            TimeSource time) {
        this.clock = new BucketClock(time);
        requests = bucket(maxRpm, rpmBurst);
        tokens = bucket(maxTpm, tpmBurst);
        requestCapacity = capacity(maxRpm, rpmBurst);
        tokenCapacity = capacity(maxTpm, tpmBurst);
    }

    private static long capacity(@Nullable Long perMinute, @Nullable Long burst) {
        if (perMinute == null || perMinute > MAX_PER_MINUTE) {
            return Long.MAX_VALUE;
        }
        return burst != null ? burst : perMinute;
    }

    private static @Nullable BucketConfiguration configuration(@Nullable Long perMinute, @Nullable Long burst) {
        if (perMinute == null || perMinute > MAX_PER_MINUTE) {
            return null;
        }
        long capacity = capacity(perMinute, burst);
        return BucketConfiguration.builder()
                .addLimit(Bandwidth.builder().capacity(capacity).refillGreedy(perMinute, MINUTE).build())
                .build();
    }

    private @Nullable Bucket bucket(@Nullable Long perMinute, @Nullable Long burst) {
        BucketConfiguration configuration = configuration(perMinute, burst);
        if (configuration == null) {
            return null;
        }
        return Bucket.builder()
                .addLimit(configuration.getBandwidths()[0])
                .withCustomTimePrecision(clock)
                .withSynchronizationStrategy(SynchronizationStrategy.NONE)
                .build();
    }

    @Override
    public long tryReserve(long tokenCount) {
        Bucket r = requests;
        Bucket t = tokens;
        if (r != null && !r.tryConsume(1)) {
            return Math.max(1, r.estimateAbilityToConsume(1).getNanosToWaitForRefill());
        }
        if (t != null && tokenCount > 0 && !t.tryConsume(tokenCount)) {
            if (r != null) {
                r.addTokens(1);
            }
            return Math.max(1, t.estimateAbilityToConsume(tokenCount).getNanosToWaitForRefill());
        }
        return RESERVED;
    }

    @Override
    public long nanosUntilAvailable(long tokenCount) {
        long wait = 0;
        if (requests != null) {
            wait = requests.estimateAbilityToConsume(1).getNanosToWaitForRefill();
        }
        if (tokens != null && tokenCount > 0) {
            wait = Math.max(wait, tokens.estimateAbilityToConsume(tokenCount).getNanosToWaitForRefill());
        }
        return wait;
    }

    @Override
    public long maxReservableTokens() {
        return tokenCapacity;
    }

    @Override
    public void refundRequest() {
        if (requests != null) {
            requests.addTokens(1);
        }
    }

    @Override
    public void adjustTokens(long delta) {
        Bucket t = tokens;
        if (t == null || delta == 0) {
            return;
        }
        if (delta > 0) {
            t.addTokens(delta);
        } else {
            t.consumeIgnoringRateLimits(-delta);
        }
    }

    @Override
    public void observe(ProviderLimits provider) {
        lower(requests, provider.remainingRequests());
        lower(tokens, provider.remainingTokens());
    }

    private static void lower(@Nullable Bucket bucket, @Nullable Long remaining) {
        if (bucket == null || remaining == null) {
            return;
        }
        long excess = bucket.getAvailableTokens() - Math.max(0, remaining);
        if (excess > 0) {
            bucket.consumeIgnoringRateLimits(excess);
        }
    }

    @Override
    public long availableRequests() {
        return requests == null ? Long.MAX_VALUE : requests.getAvailableTokens();
    }

    @Override
    public long availableTokens() {
        return tokens == null ? Long.MAX_VALUE : tokens.getAvailableTokens();
    }

    @Override
    public double requestUtilisation() {
        return utilisation(requests, requestCapacity);
    }

    @Override
    public double tokenUtilisation() {
        return utilisation(tokens, tokenCapacity);
    }

    private static double utilisation(@Nullable Bucket bucket, long capacity) {
        if (bucket == null) {
            return 0;
        }
        double used = 1.0 - (double) bucket.getAvailableTokens() / capacity;
        return Math.min(1.0, Math.max(0.0, used));
    }

    @Override
    public void reconfigure(ApiKeyConfig next) {
        reconfigure(next.maxRpm(), next.rpmBurst(), next.maxTpm(), next.tpmBurst());
    }

    void reconfigure(@Nullable Long maxRpm, @Nullable Long rpmBurst, @Nullable Long maxTpm, @Nullable Long tpmBurst) {
        requests = replace(requests, maxRpm, rpmBurst);
        tokens = replace(tokens, maxTpm, tpmBurst);
        requestCapacity = capacity(maxRpm, rpmBurst);
        tokenCapacity = capacity(maxTpm, tpmBurst);
    }

    private @Nullable Bucket replace(@Nullable Bucket current, @Nullable Long perMinute, @Nullable Long burst) {
        BucketConfiguration configuration = configuration(perMinute, burst);
        if (configuration == null || current == null) {
            // Limit added or removed: nothing to inherit from, start full (or unlimited).
            return bucket(perMinute, burst);
        }
        current.replaceConfiguration(configuration, TokensInheritanceStrategy.PROPORTIONALLY);
        return current;
    }
}
