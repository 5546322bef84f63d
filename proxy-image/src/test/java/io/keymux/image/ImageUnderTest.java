package io.keymux.image;

import com.github.dockerjava.api.DockerClient;
import io.keymux.config.testing.Await;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.testcontainers.DockerClientFactory;

/**
 * The image {@code jib:buildTar} wrote in this build, loaded once into the container engine that
 * Testcontainers finds (podman's Docker API here: {@code DOCKER_HOST}, {@code
 * TESTCONTAINERS_RYUK_DISABLED=true}). Tests SKIP, with the reason {@link #whyNot()} gives, when
 * there is no image tar or no engine that answers.
 */
final class ImageUnderTest {
    /** The bound of every wait in these tests. */
    static final Duration WAIT = Duration.ofSeconds(90);
    private static final Duration POLL = Duration.ofMillis(50);
    static final String VERSION = System.getProperty("keymux.image.version", "0.1.0-SNAPSHOT");
    /** As the engine names the loaded tar (podman prefixes localhost/ to a name without a registry). */
    static final String NAME = "localhost/keymux:" + VERSION;
    /** The repository the Helm chart pulls, tagged onto the same image. */
    static final String CHART_REPOSITORY = "ghcr.io/keymux/keymux";

    private static boolean loaded;
    private static @Nullable Optional<String> whyNot;

    private ImageUnderTest() {}

    /**
     * Why the image tests cannot run here (no image tar, no engine that answers), printed once to
     * stderr, or null when they can. Test classes check it in {@code @BeforeAll} and assume it is
     * null in {@code @BeforeEach}, so each test is reported skipped with the reason.
     */
    static synchronized @Nullable String whyNot() {
        if (whyNot == null) {
            whyNot = Optional.ofNullable(probe());
            whyNot.ifPresent(reason -> System.err.println("[proxy-image] " + reason));
        }
        return whyNot.orElse(null);
    }

    private static @Nullable String probe() {
        Path tar = tar();
        if (!Files.isRegularFile(tar)) {
            return "SKIPPED: no image tar at " + tar + ": the image is built only where a base is at hand"
                    + " (run proxy-image/src/image/local-base.sh once, or bin/build-image)";
        }
        boolean engine;
        String why = "";
        try {
            engine = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            engine = false;
            why = " (" + e.getMessage() + ")";
        }
        if (!engine) {
            return "SKIPPED: no container engine answers for Testcontainers" + why + "; DOCKER_HOST="
                    + System.getenv("DOCKER_HOST") + " (start `podman system service` and point DOCKER_HOST at its"
                    + " socket, with TESTCONTAINERS_RYUK_DISABLED=true, as .ci/run does)";
        }
        return null;
    }

    private static Path tar() {
        return Path.of(System.getProperty("keymux.image.tar", "target/keymux-image.tar"));
    }

    /** The engine's client with the image loaded (once) and tagged with the chart's repository; call when {@link #whyNot()} is null. */
    static synchronized DockerClient require() throws IOException {
        DockerClient client = DockerClientFactory.instance().client();
        if (!loaded) {
            try (InputStream in = Files.newInputStream(tar())) {
                client.loadImageCmd(in).exec();
            }
            client.tagImageCmd(NAME, CHART_REPOSITORY, VERSION).withForce().exec();
            loaded = true;
        }
        return client;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * Polls {@code condition} every 50 ms until {@link #WAIT}; fails naming {@code what}. The
     * conditions here ask a container over HTTP or the engine, too dear for {@link Await}'s default 10 ms.
     */
    static void await(String what, BooleanSupplier condition) {
        Await.until(what, condition, WAIT, POLL);
    }

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** The status of a GET, or -1 when nothing answers. */
    static int status(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> chat(String proxyUrl, boolean stream) throws IOException, InterruptedException {
        return HTTP.send(chatRequest(proxyUrl, stream), HttpResponse.BodyHandlers.ofString());
    }

    static HttpRequest chatRequest(String proxyUrl, boolean stream) {
        String body = "{\"model\":\"gpt-4o-mini\",\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        return HttpRequest.newBuilder(URI.create(proxyUrl + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static HttpClient http() {
        return HTTP;
    }
}
