package io.keymux.server.affinity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * A test upstream that keeps files, batches and responses per account (per bearer key), as OpenAI
 * does: another account's id is a 404 with OpenAI's error body, an unknown previous response a 400
 * {@code previous_response_not_found}. Lists are the account's own objects, newest first, paged with
 * {@code limit} and {@code after}. A request carrying its key in {@code x-api-key} is answered as
 * Anthropic's Files API does: file objects with {@code type}, {@code size_bytes} and an RFC 3339
 * {@code created_at}, lists without {@code object}, paged with {@code after_id} (an {@code after}
 * is not Anthropic's name and is ignored, as an unknown query parameter is).
 */
final class ProviderAccounts implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One stored object: its JSON, its content (files), its account's key. */
    record Stored(String id, String kind, String key, long createdAt, ObjectNode json, byte[] content) {}

    /** One request as the upstream saw it. */
    record Seen(String method, String path, String key) {}

    private final Map<String, Stored> objects = new ConcurrentHashMap<>();
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final AtomicLong ids = new AtomicLong(1000);
    /** Creation times: one second apart, so newest-first is well defined and ties are rare. */
    private final AtomicLong clock = new AtomicLong(1_700_000_000L);
    private final DisposableServer server;

    ProviderAccounts() {
        server = HttpServer.create().host("127.0.0.1").port(0).handle(this::handle).bindNow();
    }

    URI baseUrl() {
        return URI.create("http://127.0.0.1:" + server.port());
    }

    /** Creates an object under {@code key} directly, as if made before keymux was in front. */
    String create(String key, String kind, String prefix) {
        String id = prefix + ids.incrementAndGet();
        ObjectNode json = JSON.createObjectNode().put("id", id).put("object", kind).put("created_at", clock.incrementAndGet());
        if (kind.equals("file")) {
            json.put("bytes", 5).put("filename", "made-before.jsonl").put("purpose", "batch").put("status", "processed");
        }
        objects.put(id, new Stored(id, kind, key, json.get("created_at").asLong(), json, "hello".getBytes()));
        return id;
    }

    /** Creates a file under Anthropic account {@code key} directly, in Anthropic's shape. */
    String createAnthropicFile(String key) {
        String id = "file_011" + ids.incrementAndGet();
        long created = clock.incrementAndGet();
        ObjectNode json = JSON.createObjectNode().put("id", id).put("type", "file").put("filename", "scan.pdf")
                .put("mime_type", "application/pdf").put("size_bytes", 5)
                .put("created_at", java.time.Instant.ofEpochSecond(created).toString()).put("downloadable", false);
        objects.put(id, new Stored(id, "file", key, created, json, "hello".getBytes()));
        return id;
    }

    /** The account key that holds {@code id}, or {@code null}. */
    String keyOf(String id) {
        Stored s = objects.get(id);
        return s == null ? null : s.key();
    }

    @Override
    public void close() {
        server.disposeNow();
    }

    private Publisher<Void> handle(HttpServerRequest req, HttpServerResponse res) {
        String auth = req.requestHeaders().get("Authorization", "");
        String anthropicKey = req.requestHeaders().get("x-api-key");
        String key = anthropicKey != null ? anthropicKey : auth.startsWith("Bearer ") ? auth.substring(7) : "";
        String uri = req.uri();
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        String query = q < 0 ? "" : uri.substring(q + 1);
        String method = req.method().name();
        seen.add(new Seen(method, path, key));
        if (anthropicKey != null) {
            return req.receive().then(Mono.from(anthropic(method, path, query, key, res)));
        }
        return req.receive().aggregate().asByteArray().defaultIfEmpty(new byte[0])
                .flatMap(body -> Mono.from(route(method, path, query, key, body, req, res)));
    }

    private Publisher<Void> route(String method, String path, String query, String key, byte[] body,
            HttpServerRequest req, HttpServerResponse res) {
        String[] p = path.split("/");
        // p[0] "", p[1] "v1", p[2] collection, p[3] id, p[4] action
        String collection = p.length > 2 ? p[2] : "";
        String id = p.length > 3 ? p[3] : null;
        String action = p.length > 4 ? p[4] : null;
        if (collection.equals("files") || collection.equals("batches")) {
            String kind = collection.equals("files") ? "file" : "batch";
            if (id == null && method.equals("GET")) {
                return json(res, 200, list(key, kind, query));
            }
            if (id == null && method.equals("POST")) {
                if (kind.equals("file")) {
                    return json(res, 200, createFile(key, body, req.requestHeaders().get("Content-Type", "")).json());
                }
                JsonNode in = read(body);
                String fileId = in.path("input_file_id").asText();
                if (!owns(key, fileId)) {
                    return notFound(res, "File", fileId);
                }
                Stored batch = store(key, "batch", "batch_", JSON.createObjectNode().put("input_file_id", fileId)
                        .put("endpoint", in.path("endpoint").asText()).put("completion_window", "24h")
                        .put("status", "validating"), new byte[0]);
                return json(res, 200, batch.json());
            }
            Stored s = id == null ? null : objects.get(id);
            if (s == null || !s.key().equals(key) || !s.kind().equals(kind)) {
                return notFound(res, kind.equals("file") ? "File" : "Batch", id);
            }
            if (method.equals("DELETE")) {
                objects.remove(id);
                return json(res, 200, JSON.createObjectNode().put("id", id).put("object", kind).put("deleted", true));
            }
            if ("content".equals(action)) {
                res.status(200).header("Content-Type", "application/octet-stream");
                return res.sendByteArray(Mono.just(s.content()));
            }
            if ("cancel".equals(action)) {
                s.json().put("status", "cancelling");
            }
            return json(res, 200, s.json());
        }
        if (collection.equals("responses")) {
            if (id != null) {
                Stored s = objects.get(id);
                if (s == null || !s.key().equals(key)) {
                    return notFound(res, "Response", id);
                }
                return json(res, 200, s.json());
            }
            JsonNode in = read(body);
            String previous = in.path("previous_response_id").asText(null);
            int turn = 1;
            if (previous != null) {
                Stored prev = objects.get(previous);
                if (prev == null || !prev.key().equals(key)) {
                    return json(res, 400, error("Previous response with id '" + previous + "' not found.",
                            "invalid_request_error", "previous_response_id", "previous_response_not_found"));
                }
                turn = prev.json().path("metadata").path("turn").asInt() + 1;
            }
            ObjectNode resp = JSON.createObjectNode().put("object", "response").put("status", "completed")
                    .put("model", in.path("model").asText("gpt-4o"));
            if (previous != null) {
                resp.put("previous_response_id", previous);
            }
            resp.putObject("metadata").put("turn", turn);
            String text = "turn " + turn;
            ArrayNode output = resp.putArray("output");
            ObjectNode message = output.addObject().put("id", "msg_" + ids.incrementAndGet()).put("type", "message")
                    .put("role", "assistant").put("status", "completed");
            message.putArray("content").addObject().put("type", "output_text").put("text", text)
                    .putArray("annotations");
            resp.putObject("usage").put("input_tokens", 10).put("output_tokens", 2).put("total_tokens", 12);
            Stored stored = store(key, "response", "resp_", resp, new byte[0]);
            if (!in.path("stream").asBoolean()) {
                return json(res, 200, stored.json());
            }
            ObjectNode created = stored.json().deepCopy().put("status", "in_progress");
            created.putArray("output");
            String events = event("response.created", JSON.createObjectNode().put("type", "response.created")
                            .put("sequence_number", 0).set("response", created))
                    + event("response.output_text.delta", JSON.createObjectNode().put("type", "response.output_text.delta")
                            .put("sequence_number", 1).put("item_id", message.get("id").asText()).put("output_index", 0)
                            .put("content_index", 0).put("delta", text))
                    + event("response.completed", JSON.createObjectNode().put("type", "response.completed")
                            .put("sequence_number", 2).set("response", stored.json()));
            res.status(200).header("Content-Type", "text/event-stream");
            return res.sendString(Flux.just(events));
        }
        return json(res, 404, error("Unknown path " + path, "invalid_request_error", null, null));
    }

    /** Anthropic's Files API: list (after_id, limit) and retrieve; another account's id is a 404 not_found_error. */
    private Publisher<Void> anthropic(String method, String path, String query, String key, HttpServerResponse res) {
        String[] p = path.split("/");
        if (p.length < 3 || !p[2].equals("files") || !method.equals("GET")) {
            return json(res, 404, anthropicError("not_found_error", "Not found"));
        }
        if (p.length == 3) {
            ObjectNode page = page(key, "file", query, "after_id");
            page.remove("object");
            return json(res, 200, page);
        }
        Stored s = objects.get(p[3]);
        if (s == null || !s.key().equals(key)) {
            return json(res, 404, anthropicError("not_found_error", "File not found: " + p[3]));
        }
        return json(res, 200, s.json());
    }

    private static ObjectNode anthropicError(String type, String message) {
        ObjectNode root = JSON.createObjectNode().put("type", "error");
        root.putObject("error").put("type", type).put("message", message);
        return root;
    }

    private static String event(String type, ObjectNode data) {
        return "event: " + type + "\ndata: " + data + "\n\n";
    }

    private boolean owns(String key, String id) {
        Stored s = objects.get(id);
        return s != null && s.key().equals(key);
    }

    private Stored store(String key, String kind, String prefix, ObjectNode json, byte[] content) {
        String id = prefix + ids.incrementAndGet();
        long created = clock.incrementAndGet();
        ObjectNode full = JSON.createObjectNode().put("id", id).put("object", kind).put("created_at", created);
        full.setAll(json);
        full.put("object", kind);
        Stored s = new Stored(id, kind, key, created, full, content);
        objects.put(id, s);
        return s;
    }

    /** A multipart upload: the part named {@code file} is the content. */
    private Stored createFile(String key, byte[] body, String contentType) {
        String text = new String(body, StandardCharsets.ISO_8859_1);
        String filename = "upload.jsonl";
        byte[] content = body;
        int name = text.indexOf("filename=\"");
        if (name >= 0) {
            filename = text.substring(name + 10, text.indexOf('"', name + 10));
            int start = text.indexOf("\r\n\r\n", name) + 4;
            int boundaryAt = contentType.indexOf("boundary=");
            String boundary = "--" + contentType.substring(boundaryAt + 9).replace("\"", "");
            int end = text.indexOf("\r\n" + boundary, start);
            content = text.substring(start, end).getBytes(StandardCharsets.ISO_8859_1);
        }
        return store(key, "file", "file-", JSON.createObjectNode().put("bytes", content.length)
                .put("filename", filename).put("purpose", "batch").put("status", "processed"), content);
    }

    private ObjectNode list(String key, String kind, String query) {
        return page(key, kind, query, "after");
    }

    /** One page of the account's objects, newest first, continuing after the id under {@code cursorName}. */
    private ObjectNode page(String key, String kind, String query, String cursorName) {
        int limit = 20;
        String after = null;
        for (String pair : query.split("&")) {
            if (pair.startsWith("limit=")) {
                limit = Integer.parseInt(pair.substring(6));
            } else if (pair.startsWith(cursorName + "=")) {
                after = pair.substring(cursorName.length() + 1);
            }
        }
        List<Stored> mine = new ArrayList<>();
        for (Stored s : objects.values()) {
            if (s.key().equals(key) && s.kind().equals(kind)) {
                mine.add(s);
            }
        }
        mine.sort(Comparator.comparingLong(Stored::createdAt).reversed().thenComparing(Stored::id));
        int from = 0;
        if (after != null) {
            for (int i = 0; i < mine.size(); i++) {
                if (mine.get(i).id().equals(after)) {
                    from = i + 1;
                }
            }
        }
        List<Stored> page = mine.subList(Math.min(from, mine.size()), Math.min(from + limit, mine.size()));
        ObjectNode out = JSON.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        page.forEach(s -> data.add(s.json()));
        out.put("has_more", from + limit < mine.size());
        if (!page.isEmpty()) {
            out.put("first_id", page.get(0).id()).put("last_id", page.get(page.size() - 1).id());
        }
        return out;
    }

    private static JsonNode read(byte[] body) {
        try {
            return body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
        } catch (java.io.IOException e) {
            return JSON.createObjectNode();
        }
    }

    private static ObjectNode error(String message, String type, String param, String code) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode e = root.putObject("error").put("message", message).put("type", type);
        if (param == null) {
            e.putNull("param");
        } else {
            e.put("param", param);
        }
        if (code == null) {
            e.putNull("code");
        } else {
            e.put("code", code);
        }
        return root;
    }

    private static Publisher<Void> notFound(HttpServerResponse res, String what, String id) {
        return json(res, 404, error("No such " + what + " object: " + id, "invalid_request_error", "id", null));
    }

    private static Publisher<Void> json(HttpServerResponse res, int status, JsonNode body) {
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        res.status(status).header("Content-Type", "application/json").header("Content-Length",
                Integer.toString(bytes.length));
        return res.sendByteArray(Mono.just(bytes));
    }
}
