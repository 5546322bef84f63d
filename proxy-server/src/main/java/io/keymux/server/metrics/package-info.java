/**
 * Prometheus metrics (SPEC.md section 5): names, labels and the scrape. Label values are key ids,
 * task names, client names and small enumerations, never secrets, paths or request ids, so
 * cardinality stays bounded by the configuration.
 */
@NullMarked
package io.keymux.server.metrics;

import org.jspecify.annotations.NullMarked;
