package io.keymux.server.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.RetryPolicy;
import io.keymux.core.select.Outcome;
import io.keymux.server.pipeline.FailoverPolicy;
import io.keymux.server.pipeline.FailoverPolicy.Verdict;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.timeout.ReadTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** The status and transport verdicts of SPEC.md section 3 step 7. */
class FailoverPolicyTest {
    private static final long NOW = 1_700_000_000_000L;
    private static final RetryPolicy DEFAULTS = RetryPolicy.defaults();

    private static Verdict judge(RetryPolicy retryOn, int status, Map<String, String> headers) {
        return FailoverPolicy.judge(retryOn, status, headers::get, NOW);
    }

    @Test
    void rateLimitedCarriesTheRetryAfterAndIsRetriedWhenListed() {
        Verdict v = judge(DEFAULTS, 429, Map.of("retry-after", "12"));
        assertThat(v.retry()).isTrue();
        assertThat(v.reason()).isEqualTo("429");
        assertThat(v.outcome()).isEqualTo(new Outcome.RateLimited(Duration.ofSeconds(12)));
    }

    @Test
    void rateLimitedWithoutHeadersLeavesTheCooldownToTheBrokersDefault() {
        assertThat(judge(DEFAULTS, 429, Map.of()).outcome()).isEqualTo(new Outcome.RateLimited(null));
    }

    @Test
    void rateLimitedReadsRetryAfterMsAndTheLongestReset() {
        assertThat(judge(DEFAULTS, 429, Map.of("retry-after-ms", "1500")).outcome())
                .isEqualTo(new Outcome.RateLimited(Duration.ofMillis(1500)));
        assertThat(judge(DEFAULTS, 429, Map.of("x-ratelimit-reset-requests", "2s", "x-ratelimit-reset-tokens", "1m"))
                .outcome()).isEqualTo(new Outcome.RateLimited(Duration.ofMinutes(1)));
    }

    @Test
    void serverErrorsCountAgainstTheKeyAndAreRetriedOnlyWhenListed() {
        assertThat(judge(DEFAULTS, 503, Map.of())).isEqualTo(new Verdict(new Outcome.ServerError(503), true, "503"));
        RetryPolicy only500 = new RetryPolicy(Set.of(500), true, true);
        assertThat(judge(only500, 503, Map.of())).isEqualTo(new Verdict(new Outcome.ServerError(503), false, "503"));
    }

    @Test
    void aBadKeyAlwaysFailsOverAMissingPermissionIsAnAnswer() {
        RetryPolicy none = new RetryPolicy(Set.of(), false, false);
        assertThat(judge(none, 401, Map.of())).isEqualTo(new Verdict(new Outcome.Unauthorized(401), true, "401"));
        byte[] revoked = """
                {"error":{"message":"Incorrect API key provided: sk-ab***cd.","type":"invalid_request_error",\
                "param":null,"code":"invalid_api_key"}}""".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(FailoverPolicy.judge(none, 403, h -> null, revoked, revoked.length, null, 0))
                .isEqualTo(new Verdict(new Outcome.Unauthorized(403), true, "403"));
        byte[] permission = """
                {"type":"error","error":{"type":"permission_error","message":"Your API key does not have \
                permission to use the specified resource."}}""".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(FailoverPolicy.judge(none, 403, h -> null, permission, permission.length, null, 0))
                .isEqualTo(new Verdict(null, false, "403"));
        assertThat(judge(none, 403, Map.of())).isEqualTo(new Verdict(null, false, "403"));
    }

    @Test
    void otherStatusesAreAnswers() {
        for (int status : new int[] {200, 400, 404, 422}) {
            assertThat(judge(DEFAULTS, status, Map.of())).isEqualTo(new Verdict(null, false, Integer.toString(status)));
        }
    }

    @Test
    void transportFailuresAreTimeoutsOrConnectErrors() {
        for (Throwable t : new Throwable[] {new TimeoutException(), ReadTimeoutException.INSTANCE,
                new ConnectTimeoutException("connect")}) {
            assertThat(FailoverPolicy.isTimeout(t)).isTrue();
            assertThat(FailoverPolicy.transportOutcome(t)).isEqualTo(new Outcome.Timeout());
            assertThat(FailoverPolicy.transportReason(t)).isEqualTo("timeout");
        }
        Throwable refused = new ConnectException("refused");
        assertThat(FailoverPolicy.isTransportFailure(refused)).isTrue();
        assertThat(FailoverPolicy.transportOutcome(refused)).isEqualTo(new Outcome.ConnectFailure());
        assertThat(FailoverPolicy.transportReason(refused)).isEqualTo("connect_error");
        assertThat(FailoverPolicy.isTransportFailure(new IllegalStateException("bug"))).isFalse();
        assertThat(FailoverPolicy.retriesTransport(new RetryPolicy(Set.of(), true, false), new TimeoutException()))
                .isFalse();
        assertThat(FailoverPolicy.retriesTransport(new RetryPolicy(Set.of(), true, false), new IOException("reset")))
                .isTrue();
    }
}
