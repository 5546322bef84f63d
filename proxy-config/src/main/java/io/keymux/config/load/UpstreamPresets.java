package io.keymux.config.load;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.UpstreamConfig;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;

/** The upstreams that exist without configuration: openai, nvidia and anthropic. */
final class UpstreamPresets {

    private UpstreamPresets() {}

    /** The upstreams that exist without configuration; entries in {@code upstreams} override them. */
    static Map<String, UpstreamConfig> presets() {
        Map<String, UpstreamConfig> presets = new LinkedHashMap<>();
        presets.put("openai", new UpstreamConfig("openai", URI.create("https://api.openai.com"), AuthStyle.BEARER));
        presets.put("nvidia",
                new UpstreamConfig("nvidia", URI.create("https://integrate.api.nvidia.com"), AuthStyle.BEARER));
        presets.put("anthropic", new UpstreamConfig(
                "anthropic", URI.create("https://api.anthropic.com"), AuthStyle.header("x-api-key")));
        return presets;
    }
}
