/**
 * Loading a configuration: reading YAML or JSON, {@code ${VAR}} interpolation from the environment,
 * {@code .env} and {@code --env-file} files, mapping to the records of {@code io.keymux.config.model}
 * and validating with a path for every problem. The entry point is {@link io.keymux.config.load.ConfigLoader}.
 */
@NullMarked
package io.keymux.config.load;

import org.jspecify.annotations.NullMarked;
