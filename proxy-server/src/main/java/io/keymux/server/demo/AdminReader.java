package io.keymux.server.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

/**
 * Reads keymux's admin port the way an operator's tooling would: {@code /admin/*} with the admin
 * token, and {@code /metrics}. Blocking by design: it runs on the demo's own thread, never on an
 * event loop. A failed read gives an empty answer, so the report shows what it could get.
 */
final class AdminReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final String base;
    private final String token;

    AdminReader(int adminPort, String token) {
        this.base = "http://127.0.0.1:" + adminPort;
        this.token = token;
    }

    JsonNode json(String path) {
        String body = get(path);
        if (body.isEmpty()) {
            return MissingNode.getInstance();
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            return MissingNode.getInstance();
        }
    }

    List<PrometheusText.Sample> metrics() {
        return PrometheusText.parse(get("/metrics"));
    }

    private String get(String path) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(5))
                .header("Authorization", "Bearer " + token)
                .GET()
                .build();
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? response.body() : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }
}
