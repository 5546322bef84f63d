/** The request path, read top to bottom in {@link io.keymux.server.pipeline.ProxyPipeline}. */
@NullMarked
package io.keymux.server.pipeline;

import org.jspecify.annotations.NullMarked;
