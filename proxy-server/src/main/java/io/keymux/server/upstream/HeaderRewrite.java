package io.keymux.server.upstream;

import io.keymux.config.model.AuthStyle;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Header rewriting in both directions: hop-by-hop headers (RFC 9110 section 7.6.1: {@code Connection}
 * and the headers it names, {@code Keep-Alive}, {@code Proxy-*}, {@code TE}, {@code Trailer},
 * {@code Transfer-Encoding}, {@code Upgrade}) never cross keymux; towards the upstream the client's
 * credentials, the task header and every {@code X-Keymux-*} header are dropped too, and so is
 * {@code Expect} (keymux already holds the whole body, so there is nothing to wait for).
 */
public final class HeaderRewrite {
    private static final Set<String> HOP_BY_HOP = Set.of(
            "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade");
    private static final Set<String> CLIENT_CREDENTIALS = Set.of("authorization", "x-api-key", "api-key");

    private HeaderRewrite() {}

    /**
     * The headers for one upstream attempt.
     *
     * @param client the client's request headers
     * @param taskHeader the configured task header name
     * @param auth how the upstream takes its key
     * @param key the upstream key
     */
    public static HttpHeaders towardsUpstream(HttpHeaders client, String taskHeader, UpstreamTarget target,
            AuthStyle auth, String key, String requestId, long contentLength) {
        Set<String> drop = namedByConnection(client);
        String task = taskHeader.toLowerCase(Locale.ROOT);
        HttpHeaders out = new DefaultHttpHeaders();
        for (Map.Entry<String, String> h : client) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (isHopByHop(name) || drop.contains(name) || CLIENT_CREDENTIALS.contains(name) || name.equals(task)
                    || name.startsWith("x-keymux-") || name.equals("host") || name.equals("content-length")
                    || name.equals("x-request-id") || name.equals("expect") || name.equals("accept-encoding")) {
                continue;
            }
            out.add(h.getKey(), h.getValue());
        }
        out.set(HttpHeaderNames.HOST, target.hostHeader());
        out.set("X-Request-Id", requestId);
        // Always identity upstream, whatever the client accepts: keymux reads usage from the answer,
        // and a compressed answer would hide it. The client gets the answer uncompressed.
        out.set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY);
        if (contentLength > 0 || client.contains(HttpHeaderNames.CONTENT_LENGTH)
                || client.contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            out.set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        }
        switch (auth.kind()) {
            case BEARER -> out.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + key);
            case HEADER -> out.set(auth.name(), key);
            case QUERY -> { } // already in the target URI
        }
        return out;
    }

    /** The upstream's response headers minus hop-by-hop ones, copied onto the client response. */
    public static void towardsClient(HttpHeaders upstream, HttpHeaders client) {
        Set<String> drop = namedByConnection(upstream);
        for (Map.Entry<String, String> h : upstream) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (isHopByHop(name) || drop.contains(name) || name.startsWith("x-keymux-")) {
                continue;
            }
            client.add(h.getKey(), h.getValue());
        }
    }

    private static boolean isHopByHop(String lowerName) {
        return HOP_BY_HOP.contains(lowerName) || lowerName.startsWith("proxy-");
    }

    private static Set<String> namedByConnection(HttpHeaders headers) {
        Set<String> named = new HashSet<>();
        for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String t = token.trim().toLowerCase(Locale.ROOT);
                if (!t.isEmpty()) {
                    named.add(t);
                }
            }
        }
        return named;
    }
}
