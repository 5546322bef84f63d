package io.keymux.server.websocket;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The subprotocols a client offered ({@code Sec-WebSocket-Protocol}), split into the client key a
 * browser passes as {@code openai-insecure-api-key.<key>} (a browser cannot set headers on a
 * WebSocket) and the rest, which go upstream. Its {@link #toString()} never shows the key.
 *
 * <pre>{@code
 * Subprotocols offered = Subprotocols.of(headers);
 * // "realtime, openai-insecure-api-key.ck-123" → key "ck-123", upstream "realtime"
 * }</pre>
 *
 * @param clientKey the key from {@code openai-insecure-api-key.*}, or {@code null}
 * @param upstream the other offered subprotocols, in order
 */
public record Subprotocols(@Nullable String clientKey, List<String> upstream) {
    /** The prefix of the browser's key-carrying subprotocol (OpenAI's name for it). */
    public static final String INSECURE_KEY_PREFIX = "openai-insecure-api-key.";

    public Subprotocols {
        upstream = List.copyOf(upstream);
    }

    /**
     * Whether a request asks to be upgraded to a WebSocket: {@code Upgrade: websocket} with
     * {@code Connection: upgrade} (RFC 6455 section 4.1). A lone {@code Upgrade} header is only a
     * hop-by-hop header, dropped on the way upstream like the others.
     */
    public static boolean isUpgrade(HttpHeaders headers) {
        String upgrade = headers.get(HttpHeaderNames.UPGRADE);
        if (upgrade == null || !upgrade.trim().equalsIgnoreCase("websocket")) {
            return false;
        }
        for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                if (token.trim().equalsIgnoreCase("upgrade")) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Splits the offered subprotocols of a request. */
    public static Subprotocols of(HttpHeaders headers) {
        String key = null;
        List<String> rest = new ArrayList<>();
        for (String value : headers.getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)) {
            for (String token : value.split(",")) {
                String protocol = token.trim();
                if (protocol.isEmpty()) {
                    continue;
                }
                if (protocol.startsWith(INSECURE_KEY_PREFIX)) {
                    key = protocol.substring(INSECURE_KEY_PREFIX.length());
                } else {
                    rest.add(protocol);
                }
            }
        }
        return new Subprotocols(key, rest);
    }

    /** The offer for the upstream, comma separated as the handshake header wants it, or {@code null}. */
    public @Nullable String upstreamOffer() {
        return upstream.isEmpty() ? null : String.join(",", upstream);
    }

    @Override
    public String toString() {
        return "Subprotocols[clientKey=" + (clientKey == null ? "none" : "…") + ", upstream=" + upstream + "]";
    }
}
