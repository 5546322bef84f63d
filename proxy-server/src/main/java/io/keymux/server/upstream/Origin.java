package io.keymux.server.upstream;

import java.net.URI;
import java.util.Locale;

/**
 * Where upstream connections go: scheme, host and port. Upstream connections are pooled per origin
 * (and per event loop, {@link UpstreamPool}); an origin never holds a key, so it is safe as a map key.
 *
 * @param host the host name or address (an IPv6 literal without brackets)
 * @param port the port, the scheme's default filled in
 * @param secure whether the connection speaks TLS ({@code https})
 */
public record Origin(String host, int port, boolean secure) {

    /** The origin of an {@code http} or {@code https} base URL. */
    public static Origin of(URI baseUrl) {
        boolean secure = "https".equals(baseUrl.getScheme().toLowerCase(Locale.ROOT));
        String host = baseUrl.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = baseUrl.getPort() >= 0 ? baseUrl.getPort() : secure ? 443 : 80;
        return new Origin(host, port, secure);
    }
}
