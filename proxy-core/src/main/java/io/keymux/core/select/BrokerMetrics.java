package io.keymux.core.select;

import java.util.Map;

/**
 * Broker-wide counters for {@code /admin/metrics}, next to {@link KeyBroker#keyStates()}.
 *
 * @param taskDistribution leases granted per task, then per key id
 * @param clientCost USD per client since start
 */
public record BrokerMetrics(Map<String, Map<String, Long>> taskDistribution, Map<String, Double> clientCost) {

    public BrokerMetrics {
        taskDistribution = Map.copyOf(taskDistribution);
        clientCost = Map.copyOf(clientCost);
    }

    /** Nothing counted. */
    public static BrokerMetrics empty() {
        return new BrokerMetrics(Map.of(), Map.of());
    }
}
