/**
 * The {@code keymux} command line (SPEC.md section 1), built with picocli: {@link
 * io.keymux.server.cli.KeymuxMain} is the top command and the jar's main class; each subcommand is
 * one class registered in its {@code subcommands} list.
 */
@NullMarked
package io.keymux.server.cli;

import org.jspecify.annotations.NullMarked;
