package io.keymux.config.load;

import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.UpstreamConfig;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The warning for keys that look issued by one vendor but go to another vendor's host. */
final class VendorKeyWarnings {

    private VendorKeyWarnings() {}

    /** Key prefixes that vendors publish, with the host of the vendor that issues them. */
    private static final Map<String, String> VENDOR_PREFIXES =
            Map.of("nvapi-", "integrate.api.nvidia.com", "sk-ant-", "api.anthropic.com");

    /**
     * A seed-format file has no upstreams, so its keys go to default_upstream (openai). Sending an
     * NVIDIA key to OpenAI fails every request and hands the key to the wrong vendor, so say so when
     * a key with a vendor's published prefix goes to another known vendor's host. Only the public
     * prefix is named, never the key.
     */
    static void warn(Diagnostics diag, List<ApiKeyConfig> keys, Map<String, UpstreamConfig> upstreams) {
        Set<String> vendorHosts = new HashSet<>(VENDOR_PREFIXES.values());
        vendorHosts.add("api.openai.com");
        Map<Misroute, List<String>> misrouted = new LinkedHashMap<>();
        for (ApiKeyConfig k : keys) {
            UpstreamConfig upstream = upstreams.get(k.upstream());
            String host = upstream == null ? null : upstream.baseUrl().getHost();
            for (Map.Entry<String, String> vendor : VENDOR_PREFIXES.entrySet()) {
                if (k.apiKey().reveal().startsWith(vendor.getKey()) && host != null && vendorHosts.contains(host)
                        && !host.equals(vendor.getValue())) {
                    misrouted.computeIfAbsent(new Misroute(vendor.getKey(), upstream), x -> new ArrayList<>())
                            .add(k.keyId());
                }
            }
        }
        misrouted.forEach((m, keyIds) -> diag.warn("api_keys " + String.join(", ", keyIds)
                + ": the key looks issued for " + VENDOR_PREFIXES.get(m.prefix()) + " (" + m.prefix()
                + "...) but goes to upstream '" + m.upstream().name() + "' (" + m.upstream().baseUrl()
                + "); set the key's upstream, or default_upstream"));
    }

    private record Misroute(String prefix, UpstreamConfig upstream) {}
}
