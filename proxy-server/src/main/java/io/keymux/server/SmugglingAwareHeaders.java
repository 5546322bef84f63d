package io.keymux.server;

import io.keymux.server.pipeline.ProxyPipeline;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * Request headers that remember a request smuggling attempt. Netty's decoder silently drops
 * {@code Content-Length} when {@code Transfer-Encoding} is also present (RFC 9112 section 6.3);
 * SPEC.md wants such a request refused with 400 {@code bad_request}, so the removal leaves a marker
 * header the pipeline answers. The marker starts with {@code x-keymux-}, so it is never forwarded.
 */
final class SmugglingAwareHeaders extends DefaultHttpHeaders {

    /** The factory to plug into the server's request decoder. */
    static final HttpHeadersFactory FACTORY = new HttpHeadersFactory() {
        @Override
        public HttpHeaders newHeaders() {
            return new SmugglingAwareHeaders();
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return new SmugglingAwareHeaders();
        }
    };

    @Override
    public HttpHeaders remove(CharSequence name) {
        if (HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(name) && contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            super.set(ProxyPipeline.SMUGGLING_MARKER, "1");
        }
        return super.remove(name);
    }

    @Override
    public HttpHeaders remove(String name) {
        return remove((CharSequence) name);
    }
}
