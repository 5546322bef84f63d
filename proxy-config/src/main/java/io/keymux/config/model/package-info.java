/**
 * The configuration model: immutable records produced by {@code io.keymux.config.load.ConfigLoader}.
 * Every value is already interpolated, defaulted and validated; nothing here is mutated after load.
 */
@NullMarked
package io.keymux.config.model;

import org.jspecify.annotations.NullMarked;
