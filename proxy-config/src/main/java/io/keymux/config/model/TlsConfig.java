package io.keymux.config.model;

import java.nio.file.Path;

/** PEM certificate chain and private key files for a TLS listener. */
public record TlsConfig(Path certFile, Path keyFile) {}
