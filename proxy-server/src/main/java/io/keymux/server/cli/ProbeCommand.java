package io.keymux.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code keymux probe URL}: one {@code GET} of {@code URL}; exits 0 on a 2xx answer and 1 on any
 * other answer or on no answer, with one line saying which. It lets keymux's own image check a
 * keymux (the Helm chart's {@code helm test} pod) without a second image that has curl.
 *
 * <pre>{@code
 * keymux probe http://keymux:9090/healthz
 * probe http://keymux:9090/healthz: 200
 * }</pre>
 *
 * The line names the URL without its user-info and query, which may carry a credential.
 */
@Command(
        name = "probe",
        mixinStandardHelpOptions = true,
        versionProvider = KeymuxMain.Version.class,
        description = "GET a URL once: exit 0 on a 2xx answer, 1 otherwise (e.g. a /healthz check).")
public final class ProbeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "URL", description = "An http:// or https:// URL.")
    private String url = "";

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "5",
            description = "Seconds to wait for the connection and the answer's head (default: ${DEFAULT-VALUE}).")
    private int timeoutSeconds;

    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            err.println("probe: not a URL (expected: http://host:port/path)");
            return 1;
        }
        String shown = shown(uri);
        if (!"http".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(uri.getScheme())
                || uri.getHost() == null) {
            err.println("probe " + shown + ": not an http(s) URL (expected: http://host:port/path)");
            return 1;
        }
        if (timeoutSeconds <= 0) {
            err.println("probe: --timeout " + timeoutSeconds + " (expected: > 0)");
            return 1;
        }
        Duration timeout = Duration.ofSeconds(timeoutSeconds);
        HttpClient client = HttpClient.newBuilder().connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).GET().build();
        try {
            int status = client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
            if (status >= 200 && status < 300) {
                out.println("probe " + shown + ": " + status);
                return 0;
            }
            err.println("probe " + shown + ": " + status + " (expected: 2xx)");
            return 1;
        } catch (HttpTimeoutException e) {
            err.println("probe " + shown + ": no answer within " + timeoutSeconds + " s");
            return 1;
        } catch (ConnectException e) {
            err.println("probe " + shown + ": connection refused or unreachable");
            return 1;
        } catch (IOException e) {
            // The class only: a message may quote what the server sent.
            err.println("probe " + shown + ": " + e.getClass().getSimpleName());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("probe " + shown + ": interrupted");
            return 1;
        }
    }

    /** scheme://host[:port]/path: no user-info, no query, no fragment. */
    static String shown(URI uri) {
        if (uri.getScheme() == null || uri.getHost() == null) {
            return "(a URL without scheme or host)";
        }
        return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
                + (uri.getRawPath() == null ? "" : uri.getRawPath());
    }
}
