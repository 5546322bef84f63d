package io.keymux.config.model;

import java.net.URI;

/**
 * An upstream API: where requests go and how the key is put on them.
 *
 * @param baseUrl scheme, host, optional port and optional path prefix (no trailing slash)
 */
public record UpstreamConfig(String name, URI baseUrl, AuthStyle auth) {}
