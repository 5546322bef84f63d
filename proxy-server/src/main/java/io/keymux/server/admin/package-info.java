/**
 * The admin listener (SPEC.md section 5): health and readiness probes, Prometheus metrics, the
 * token-protected {@code /admin/*} API with health score and recommendations, and the dashboard.
 */
@NullMarked
package io.keymux.server.admin;

import org.jspecify.annotations.NullMarked;
