package io.keymux.server.harden;

import static org.assertj.core.api.Assertions.assertThat;

import io.keymux.config.model.TlsConfig;
import io.keymux.config.testing.TestConfigs;
import io.keymux.server.testing.KeymuxTestBase;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.client.HttpClient;

/**
 * {@code server.tls} and {@code server.admin_tls}: both ports speak TLS with a PEM pair; a client
 * trusting the certificate gets normal answers. The pair is generated per test run, in the JVM
 * (Netty's {@link SelfSignedCertificate}, no network).
 */
class TlsTest extends KeymuxTestBase {
    private SelfSignedCertificate certificate;

    @BeforeEach
    void generateCertificate() throws CertificateException {
        certificate = new SelfSignedCertificate("localhost");
    }

    @AfterEach
    void deleteCertificate() {
        certificate.delete();
    }

    private HttpClient trustingClient(int port) {
        return HttpClient.create()
                .secure(spec -> spec.sslContext(Http11SslContextSpec.forClient()
                        .configure(builder -> builder.trustManager(certificate.certificate()))))
                .baseUrl("https://localhost:" + port);
    }

    @Test
    void proxyAndAdminPortsServeTls() {
        TlsConfig pair = new TlsConfig(certificate.certificate().toPath(), certificate.privateKey().toPath());
        startKeymux(config().server(s -> s.tls(pair).adminTls(pair)).build());

        String body = trustingClient(keymux.proxyPort())
                .headers(h -> h.set("Authorization", "Bearer " + TestConfigs.CLIENT_KEY)
                        .set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions")
                .send((req, out) -> out.sendString(Mono.just(chatBody("gpt-4o"))))
                .responseSingle((res, content) -> content.asString(StandardCharsets.UTF_8)
                        .map(s -> res.status().code() + " " + s))
                .block(TIMEOUT);
        assertThat(body).startsWith("200 ").contains("hello from stub");
        assertThat(stub.last().headers().get("Authorization")).isEqualTo("Bearer " + TestConfigs.POOL_KEY_1);

        Integer health = trustingClient(keymux.adminPort()).get().uri("/healthz")
                .responseSingle((res, content) -> Mono.just(res.status().code()))
                .block(TIMEOUT);
        assertThat(health).isEqualTo(200);
    }
}
