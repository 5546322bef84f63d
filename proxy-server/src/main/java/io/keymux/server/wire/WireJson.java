package io.keymux.server.wire;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.InputStream;

/** The one Jackson factory of this package and parsers over Netty buffers. */
final class WireJson {

    /** Thread-safe once built; parsers recycle their buffers through it. */
    static final JsonFactory FACTORY = JsonFactory.builder().build();

    private WireJson() {}

    /**
     * A parser over the readable bytes of {@code buf}; neither its reader index nor its
     * reference count changes. Byte offsets reported by the parser are relative to the
     * buffer's reader index.
     */
    static JsonParser parser(ByteBuf buf) throws IOException {
        if (buf.hasArray()) {
            return FACTORY.createParser(buf.array(), buf.arrayOffset() + buf.readerIndex(), buf.readableBytes());
        }
        // A duplicate has its own indices, so reading it leaves the caller's reader index alone.
        return FACTORY.createParser((InputStream) new ByteBufInputStream(buf.duplicate()));
    }
}
