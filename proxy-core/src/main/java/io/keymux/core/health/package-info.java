/**
 * Key and upstream health as the providers mean it: what an upstream answer says about the key
 * that sent it ({@link io.keymux.core.health.AnswerClassifier}) and the per-upstream overload
 * backoff ({@link io.keymux.core.health.OverloadBackoff}). Pure decisions over status codes,
 * header values and bytes the server hands over; no Netty, no Jackson.
 */
@NullMarked
package io.keymux.core.health;

import org.jspecify.annotations.NullMarked;
