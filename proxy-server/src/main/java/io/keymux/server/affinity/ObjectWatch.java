package io.keymux.server.affinity;

import io.keymux.core.affinity.ObjectIds;
import io.netty.buffer.ByteBuf;
import java.util.List;

/**
 * The {@link AnswerWatch} of one attempt on one key: keeps the first {@value #COPY_BYTES} bytes of
 * the answer and, once it ended with a 2xx, remembers the ids it created (and the ids an unknown-id
 * search found on this key), or forgets the id a {@code DELETE} removed.
 */
final class ObjectWatch implements AnswerWatch {
    /** The ids sit at the start of an answer (an event stream's first event): this much is enough. */
    static final int COPY_BYTES = 64 * 1024;

    private final ObjectAffinity affinity;
    private final String task;
    private final String keyId;
    private final boolean delete;
    private final boolean store;
    private final List<String> pathIds;
    private final List<String> searched;
    private final boolean scan;
    private byte[] copy = new byte[0];
    private int length;

    ObjectWatch(ObjectAffinity affinity, String task, String keyId, boolean delete, boolean store, boolean scan, List<String> pathIds, List<String> searched) {
        this.affinity = affinity;
        this.task = task;
        this.keyId = keyId;
        this.delete = delete;
        this.store = store;
        this.scan = scan;
        this.pathIds = pathIds;
        this.searched = searched;
    }

    @Override
    public void feed(ByteBuf chunk) {
        if (!scan || delete || length >= COPY_BYTES) {
            return;
        }
        int n = Math.min(chunk.readableBytes(), COPY_BYTES - length);
        if (length + n > copy.length) {
            byte[] grown = new byte[Math.min(COPY_BYTES, Math.max(length + n, copy.length * 2))];
            System.arraycopy(copy, 0, grown, 0, length);
            copy = grown;
        }
        chunk.getBytes(chunk.readerIndex(), copy, length, n);
        length += n;
    }

    @Override
    public void ended(int status) {
        if (status < 200 || status >= 300) {
            return;
        }
        if (delete) {
            // DELETE /v1/files/{id}, /v1/responses/{id}, ...: the last id in the path is the one deleted.
            if (!pathIds.isEmpty()) {
                affinity.store().forget(pathIds.get(pathIds.size() - 1));
            }
            return;
        }
        if (!searched.isEmpty()) {
            for (String id : searched) {
                affinity.store().remember(id, keyId);
            }
            affinity.count(task, ObjectAffinity.DISCOVERED);
        }
        if (!scan || length == 0) {
            return;
        }
        List<String> created = json() ? AnswerIds.ofJson(copy, length) : AnswerIds.ofEventStream(copy, length);
        for (String id : created) {
            if (!ObjectIds.isChatCompletion(id) || store) {
                affinity.store().remember(id, keyId);
            }
        }
    }

    /** A JSON answer starts with its object; an event stream with {@code event:} or {@code data:}. */
    private boolean json() {
        for (int i = 0; i < length; i++) {
            byte b = copy[i];
            if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
                return b == '{';
            }
        }
        return false;
    }
}
