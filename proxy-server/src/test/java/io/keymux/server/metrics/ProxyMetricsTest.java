package io.keymux.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ProxyMetricsTest {

    @Test
    void exportsTheMetricNamesAndLabelsOfTheSpec() {
        ProxyMetrics metrics = new ProxyMetrics();
        metrics.request("diagnosis", "diag_1", 200);
        metrics.request("diagnosis", "diag_1", 200);
        metrics.failover("diagnosis", "429");
        metrics.upstreamLatency("diagnosis", "diag_1", 25_000_000L);
        metrics.tokens("diagnosis", "diag_1", 12, 30);
        metrics.cost("diagnosis", "diag_1", "backend", 0.0042);
        metrics.queueWait("diagnosis", 5_000_000L);
        AtomicReference<String> state = new AtomicReference<>("cooling_down");
        metrics.keyState("diag_1", state, AtomicReference::get);

        String text = metrics.scrape();

        assertThat(text)
                .contains("keymux_requests_total{key_id=\"diag_1\",status=\"200\",task=\"diagnosis\"} 2.0")
                .contains("keymux_failovers_total{reason=\"429\",task=\"diagnosis\"} 1.0")
                .contains("keymux_upstream_latency_seconds_bucket{")
                .contains("keymux_upstream_latency_seconds_count{key_id=\"diag_1\",task=\"diagnosis\"} 1")
                .contains("keymux_tokens_total{key_id=\"diag_1\",kind=\"prompt\",task=\"diagnosis\"} 12.0")
                .contains("keymux_tokens_total{key_id=\"diag_1\",kind=\"completion\",task=\"diagnosis\"} 30.0")
                .contains("keymux_cost_usd_total{client=\"backend\",key_id=\"diag_1\",task=\"diagnosis\"} 0.0042")
                .contains("keymux_queue_wait_seconds_count{task=\"diagnosis\"} 1")
                .contains("keymux_key_state{key_id=\"diag_1\",state=\"cooling_down\"} 1.0")
                .contains("keymux_key_state{key_id=\"diag_1\",state=\"active\"} 0.0");
    }

    @Test
    void keyStateFollowsTheSourceAtScrapeTime() {
        ProxyMetrics metrics = new ProxyMetrics();
        AtomicReference<String> state = new AtomicReference<>("active");
        metrics.keyState("k", state, AtomicReference::get);
        metrics.keyState("k", state, AtomicReference::get);

        state.set("disabled");

        assertThat(metrics.scrape())
                .contains("keymux_key_state{key_id=\"k\",state=\"disabled\"} 1.0")
                .contains("keymux_key_state{key_id=\"k\",state=\"active\"} 0.0");
    }

    @Test
    void redisUpIsAZeroOrOneGaugeRegisteredOnce() {
        ProxyMetrics metrics = new ProxyMetrics();
        java.util.concurrent.atomic.AtomicBoolean up = new java.util.concurrent.atomic.AtomicBoolean(true);
        assertThat(metrics.scrape()).doesNotContain("keymux_redis_up");

        metrics.redisUp(up::get);
        metrics.redisUp(up::get);
        assertThat(metrics.scrape()).contains("keymux_redis_up 1.0");
        up.set(false);

        assertThat(metrics.scrape()).contains("keymux_redis_up 0.0");
    }
}
