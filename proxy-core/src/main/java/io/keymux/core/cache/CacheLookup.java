package io.keymux.core.cache;

/** What {@link AnswerCache#lookup} decided for a request. */
public sealed interface CacheLookup {

    /** A stored answer: send it, call nothing upstream. */
    record Hit(StoredAnswer answer) implements CacheLookup {}

    /** An identical request is in flight: join it ({@link Flight#join}). */
    record Join(Flight flight) implements CacheLookup {}

    /** Nothing stored and nothing in flight: this request leads, feeding {@code flight} with its answer. */
    record Lead(Flight flight) implements CacheLookup {}
}
