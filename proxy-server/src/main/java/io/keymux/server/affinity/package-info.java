/**
 * Provider objects stay with their key (SPEC.md section 3.9) on the wire: the ids a request names
 * ({@link io.keymux.server.affinity.PathIds}, with the body's from
 * {@link io.keymux.server.wire.RequestInspector}), the ids an answer creates
 * ({@link io.keymux.server.affinity.AnswerIds}, watched by {@link io.keymux.server.affinity.ObjectWatch}),
 * where the map lives ({@link io.keymux.server.affinity.AffinityStore}: this replica's memory, or Redis
 * shared by every replica) and the decision for one request ({@link io.keymux.server.affinity.ObjectAffinity}).
 */
@NullMarked
package io.keymux.server.affinity;

import org.jspecify.annotations.NullMarked;
