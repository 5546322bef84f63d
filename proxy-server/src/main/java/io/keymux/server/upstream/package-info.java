/** Talking to upstreams: the target URI with the key injected, and header rewriting both ways. */
@NullMarked
package io.keymux.server.upstream;

import org.jspecify.annotations.NullMarked;
