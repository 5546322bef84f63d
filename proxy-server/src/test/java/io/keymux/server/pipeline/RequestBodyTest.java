package io.keymux.server.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** A request body grows as its bytes arrive, never to what Content-Length only promises. */
class RequestBodyTest {

    @Test
    void aDeclaredLengthAllocatesAtMostTheUpfrontBound() {
        RequestBody body = new RequestBody(32L * 1024 * 1024, 10L * 1024 * 1024);

        assertThat(body.capacity()).isEqualTo(RequestBody.MAX_UPFRONT_BYTES);
    }

    @Test
    void aSmallDeclaredLengthIsAllocatedExactly() {
        RequestBody body = new RequestBody(1024 * 1024, 300);
        ByteBuf chunk = Unpooled.wrappedBuffer(filled(300, (byte) 'a'));

        assertThat(body.capacity()).isEqualTo(300);
        assertThat(body.append(chunk)).isTrue();
        assertThat(body.bytes()).hasSize(300).containsOnly((byte) 'a');
    }

    @Test
    void growsPastTheUpfrontBoundAsBytesArriveAndKeepsThemInOrder() {
        RequestBody body = new RequestBody(1024 * 1024, 200_000);
        for (int i = 0; i < 20; i++) {
            assertThat(body.append(Unpooled.wrappedBuffer(filled(10_000, (byte) i)))).isTrue();
        }

        byte[] bytes = body.bytes();
        assertThat(bytes).hasSize(200_000);
        assertThat(bytes[0]).isEqualTo((byte) 0);
        assertThat(bytes[199_999]).isEqualTo((byte) 19);
        assertThat(bytes[70_000]).isEqualTo((byte) 7);
    }

    @Test
    void refusesPastTheLimit() {
        RequestBody body = new RequestBody(100, 100);

        assertThat(body.append(Unpooled.wrappedBuffer(filled(60, (byte) 1)))).isTrue();
        assertThat(body.append(Unpooled.wrappedBuffer(filled(60, (byte) 1)))).isFalse();
        assertThat(body.tooLarge()).isTrue();
    }

    private static byte[] filled(int n, byte value) {
        byte[] b = new byte[n];
        Arrays.fill(b, value);
        return b;
    }
}
