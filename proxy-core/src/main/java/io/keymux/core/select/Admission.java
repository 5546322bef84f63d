package io.keymux.core.select;

/** The broker's answer to a {@link KeyRequest}: a {@link Lease} on a key, or a {@link Rejection}. */
public sealed interface Admission permits Lease, Rejection {}
