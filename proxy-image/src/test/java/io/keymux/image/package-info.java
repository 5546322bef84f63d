/**
 * Tests of keymux's container image as the Helm chart runs it: {@link io.keymux.image.ImageIT}
 * (Testcontainers through podman's Docker API) and {@link io.keymux.image.ChartPodIT} ({@code
 * podman kube play} of the chart), with an OpenAI-shaped upstream stub in the test JVM.
 */
@NullMarked
package io.keymux.image;

import org.jspecify.annotations.NullMarked;
