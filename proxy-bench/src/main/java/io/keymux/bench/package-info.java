/** keymux benchmarks. */
package io.keymux.bench;
