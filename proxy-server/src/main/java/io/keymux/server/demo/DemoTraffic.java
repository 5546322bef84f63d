package io.keymux.server.demo;

import io.netty.handler.codec.http.HttpHeaderNames;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The demo's traffic driver: a steady mix of tasks, plain and streamed, some by header and some by
 * {@code /tasks/{task}/} path, plus one burst in which a low- and a high-priority task compete for
 * the same scarce keys. Every answer is classified: from an upstream (any status it chose), a
 * deliberate keymux error (its {@code keymux_error} body), or lost (no answer at all).
 */
final class DemoTraffic {

    /** One kind of request the driver sends. */
    record TaskMix(String task, int weight, boolean byPath, double streamShare) {}

    /** How every request ended. */
    static final class Tally {
        final LongAdder sent = new LongAdder();
        final LongAdder answeredByUpstream = new LongAdder();
        final LongAdder keymuxErrors = new LongAdder();
        final LongAdder lost = new LongAdder();
        final Map<String, LongAdder> byStatus = new ConcurrentHashMap<>();
        final Map<String, LongAdder> keymuxErrorCodes = new ConcurrentHashMap<>();

        long completed() {
            return answeredByUpstream.sum() + keymuxErrors.sum() + lost.sum();
        }

        void status(int status) {
            byStatus.computeIfAbsent(Integer.toString(status), s -> new LongAdder()).increment();
        }
    }

    private final HttpClient client;
    private final String clientKey;
    private final List<TaskMix> mix;
    private final int totalWeight;
    final Tally tally = new Tally();

    DemoTraffic(int proxyPort, String clientKey, List<TaskMix> mix) {
        this.clientKey = Objects.requireNonNull(clientKey);
        this.mix = List.copyOf(mix);
        this.totalWeight = mix.stream().mapToInt(TaskMix::weight).sum();
        this.client = HttpClient.create(ConnectionProvider.builder("demo-driver").maxConnections(256).build())
                .baseUrl("http://127.0.0.1:" + proxyPort)
                .responseTimeout(Duration.ofSeconds(60));
    }

    /** Sends {@code perSecond} requests a second for {@code duration}, and waits for every answer. */
    Mono<Void> steady(Duration duration, int perSecond) {
        long count = duration.toMillis() * perSecond / 1000;
        Duration period = Duration.ofNanos(1_000_000_000L / perSecond);
        return Flux.interval(period)
                .take(count)
                .onBackpressureBuffer()
                .flatMap(i -> send(pick()), 512)
                .then();
    }

    /** Sends {@code each} requests of every given task at once. */
    Mono<Void> burst(List<String> tasks, int each) {
        return Flux.range(0, each)
                .flatMap(i -> Flux.fromIterable(tasks))
                .flatMap(task -> send(new TaskMix(task, 1, false, 0.0)), 1024)
                .then();
    }

    private TaskMix pick() {
        int r = ThreadLocalRandom.current().nextInt(totalWeight);
        for (TaskMix m : mix) {
            r -= m.weight();
            if (r < 0) {
                return m;
            }
        }
        return mix.get(mix.size() - 1);
    }

    /** Share of requests that repeat one of a few common questions (a resend, a double click, a batch). */
    static final double REPEAT_SHARE = 0.35;
    /** How many common questions each task has. */
    static final int COMMON_QUESTIONS = 4;
    /** The task whose requests carry a long system prompt (the patient-chat guidelines). */
    static final String LONG_PROMPT_TASK = "chat";
    /** About 1,500 tokens of guidelines: over the 1,024 a provider needs before it caches a prefix. */
    static final String CLINIC_GUIDE = clinicGuide();

    private static String clinicGuide() {
        String[] rules = {
            "Greet the patient by name and confirm the appointment they are asking about.",
            "Never give a diagnosis in chat; offer a visit with a dentist instead.",
            "For pain after an extraction, explain the aftercare sheet and when to call the clinic.",
            "Quote prices only from the current fee schedule and say that insurance may change them.",
            "Escalate swelling of the face, fever or bleeding that does not stop to the on-call dentist.",
            "Keep answers short, friendly and in the language the patient wrote in.",
        };
        StringBuilder sb = new StringBuilder("You are the DentaMind clinic assistant. Follow these guidelines. ");
        for (int i = 0; sb.length() < 6000; i++) {
            sb.append(i + 1).append(". ").append(rules[i % rules.length]).append(' ');
        }
        return sb.toString().trim();
    }

    private Mono<Void> send(TaskMix m) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        boolean stream = random.nextDouble() < m.streamShare();
        // Most questions are new; some repeat a common one, which a caching task answers from memory.
        String question = random.nextDouble() < REPEAT_SHARE
                ? "common question " + random.nextInt(COMMON_QUESTIONS)
                : "question " + Long.toHexString(random.nextLong());
        // The system prompt comes first and stays the same, so a provider's prompt cache can serve it.
        String system = m.task().equals(LONG_PROMPT_TASK)
                ? "{\"role\":\"system\",\"content\":\"" + CLINIC_GUIDE + "\"}," : "";
        String body = "{\"model\":\"demo-model\",\"max_tokens\":64,\"messages\":[" + system
                + "{\"role\":\"user\",\"content\":\"" + m.task() + " " + question + " from the DentaMind demo\"}]"
                + (stream ? ",\"stream\":true" : "") + "}";
        String path = m.byPath() ? "/tasks/" + m.task() + "/v1/chat/completions" : "/v1/chat/completions";
        tally.sent.increment();
        return client.headers(h -> {
                    h.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + clientKey);
                    h.set(HttpHeaderNames.CONTENT_TYPE, "application/json");
                    if (!m.byPath()) {
                        h.set("X-Task-Type", m.task());
                    }
                })
                .post()
                .uri(path)
                .send(ByteBufFlux.fromString(Mono.just(body), StandardCharsets.UTF_8, io.netty.buffer.ByteBufAllocator.DEFAULT))
                .responseSingle((response, content) -> content.asString(StandardCharsets.UTF_8)
                        .defaultIfEmpty("")
                        .map(text -> {
                            record(response.status().code(), text);
                            return text;
                        }))
                .onErrorResume(e -> {
                    tally.lost.increment();
                    return Mono.empty();
                })
                .then();
    }

    private void record(int status, String body) {
        tally.status(status);
        if (status >= 400 && body.contains("\"keymux_error\"")) {
            tally.keymuxErrors.increment();
            int at = body.indexOf("\"code\":\"");
            String code = at < 0 ? "unknown" : body.substring(at + 8, Math.max(at + 8, body.indexOf('"', at + 8)));
            tally.keymuxErrorCodes.computeIfAbsent(code, c -> new LongAdder()).increment();
        } else if (status >= 200 && status < 300 && body.contains("\"error\"") && body.contains("keymux_error")) {
            // A stream that broke after its first byte ends with an error event: keymux's deliberate answer.
            tally.keymuxErrors.increment();
        } else {
            tally.answeredByUpstream.increment();
        }
    }
}
