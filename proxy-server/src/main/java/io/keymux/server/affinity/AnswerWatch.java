package io.keymux.server.affinity;

import io.netty.buffer.ByteBuf;

/**
 * Looks at an answer on its way to the client (never changes it): the pipeline's usage tap hands
 * every chunk to {@link #feed}, then {@link #ended} once the upstream sent all of it. On the
 * exchange's event loop; must not block.
 */
public interface AnswerWatch {

    /** A chunk of the answer body; read without moving its indexes or keeping a reference. */
    void feed(ByteBuf chunk);

    /** The whole answer went through, with this status. */
    void ended(int status);
}
