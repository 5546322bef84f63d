/**
 * {@code keymux demo}: an embedded mock OpenAI-compatible upstream with per-key limits and injected
 * faults, keymux itself, and a traffic driver. The mock also serves the load benchmark.
 */
@NullMarked
package io.keymux.server.demo;

import org.jspecify.annotations.NullMarked;
