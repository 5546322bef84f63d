package io.keymux.server.upstream;

import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.UpstreamConfig;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Where one attempt goes: the upstream's base URL joined with the forwarded path and query, with the
 * key put in the query when the upstream's auth style is {@code query:NAME}. Its {@link #toString()}
 * never shows the query, which may hold the key.
 *
 * @param origin where the connection goes
 * @param requestTarget the request line's path and query (may contain the key: never log it)
 * @param hostHeader the {@code Host} header value for the upstream
 */
public record UpstreamTarget(Origin origin, String requestTarget, String hostHeader) {

    /**
     * Builds the target.
     *
     * @param forwardPath raw path to forward, normally starting with {@code /}; joined to the base
     *     path at a segment boundary either way
     * @param rawQuery the raw query without {@code ?}, or {@code null}
     * @param key the upstream key, only used for {@code query:NAME}
     */
    public static UpstreamTarget of(UpstreamConfig upstream, String forwardPath, @Nullable String rawQuery, String key) {
        Objects.requireNonNull(upstream, "upstream");
        URI base = upstream.baseUrl();
        String basePath = base.getRawPath() == null ? "" : base.getRawPath();
        if (basePath.endsWith("/")) {
            basePath = basePath.substring(0, basePath.length() - 1);
        }
        String query = rawQuery;
        AuthStyle auth = upstream.auth();
        if (auth.kind() == AuthStyle.Kind.QUERY) {
            query = withParameter(rawQuery, auth.name(), key);
        }
        StringBuilder target = new StringBuilder(basePath.length() + forwardPath.length() + 64).append(basePath);
        // At a segment boundary whatever the forwarded path looks like: "/prefix" + "v1/x" must not
        // become "/prefix" "v1/x" glued into one segment, and an empty path still sends "/".
        if (!forwardPath.startsWith("/") && (!forwardPath.isEmpty() || basePath.isEmpty())) {
            target.append('/');
        }
        target.append(forwardPath);
        if (query != null && !query.isEmpty()) {
            target.append('?').append(query);
        }
        return new UpstreamTarget(Origin.of(base), target.toString(), base.getRawAuthority());
    }

    /** The absolute URI (may contain the key: never log it). */
    public String uri() {
        return (origin.secure() ? "https://" : "http://") + hostHeader + requestTarget;
    }

    /** Replaces every {@code name=...} pair of the query (or appends one) with {@code name=value}. */
    static String withParameter(@Nullable String rawQuery, String name, String value) {
        String encodedName = URLEncoder.encode(name, StandardCharsets.UTF_8);
        String pair = encodedName + "=" + URLEncoder.encode(value, StandardCharsets.UTF_8);
        if (rawQuery == null || rawQuery.isEmpty()) {
            return pair;
        }
        StringBuilder out = new StringBuilder(rawQuery.length() + pair.length() + 1);
        for (String part : rawQuery.split("&", -1)) {
            int eq = part.indexOf('=');
            String partName = eq < 0 ? part : part.substring(0, eq);
            if (partName.equals(encodedName) || partName.equals(name)) {
                continue;
            }
            if (out.length() > 0) {
                out.append('&');
            }
            out.append(part);
        }
        if (out.length() > 0) {
            out.append('&');
        }
        return out.append(pair).toString();
    }

    @Override
    public String toString() {
        String uri = uri();
        int q = uri.indexOf('?');
        return "UpstreamTarget[" + (q < 0 ? uri : uri.substring(0, q) + "?…") + "]";
    }
}
