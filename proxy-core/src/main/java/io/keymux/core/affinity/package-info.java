/**
 * Which key a request should go to when the provider keeps state per account (SPEC.md section 3.9),
 * without Netty or Jackson: {@link io.keymux.core.affinity.ObjectIds} (what a provider object id
 * looks like), {@link io.keymux.core.affinity.ObjectMap} (the bounded id-to-key map of one replica),
 * {@link io.keymux.core.affinity.Rendezvous} (a prompt digest's preferred key order) and
 * {@link io.keymux.core.affinity.PromptDigest} (the digest of a prompt's stable part).
 */
@NullMarked
package io.keymux.core.affinity;

import org.jspecify.annotations.NullMarked;
