package io.keymux.config.model;

import org.jspecify.annotations.Nullable;

/**
 * The {@code admin} block.
 *
 * @param token bearer token for {@code /admin/*}; {@code null} means {@code /admin/*} answers 403
 */
public record AdminConfig(@Nullable Secret token) {}
