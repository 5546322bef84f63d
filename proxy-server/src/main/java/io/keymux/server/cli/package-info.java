/** keymux server. */
@org.jspecify.annotations.NullMarked
package io.keymux.server.cli;
