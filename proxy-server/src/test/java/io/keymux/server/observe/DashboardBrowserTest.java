package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import com.microsoft.playwright.Request;
import io.keymux.config.testing.Await;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * The dashboard in a real browser: Debian's headless Chromium ({@code /usr/bin/chromium}, installed
 * by {@code .ci/run}) driven by Playwright for Java, which is told never to download a browser. The
 * page is loaded from a running keymux with traffic flowing through it, by the address
 * {@code keymux demo} prints ({@code /#token=...}).
 *
 * <p>Skipped only when Chromium is not installed; any other failure to start the browser fails.
 * The screenshot goes to {@code target/dashboard.png} ({@code docs/dashboard.png} is a copy).
 */
class DashboardBrowserTest extends ObserveTestBase {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path SCREENSHOT = Path.of("target", "dashboard.png");
    private static final double WAIT_MS = 30_000;

    private static final String CONFIG = """
            admin: { token: "${ADMIN_TOKEN}" }
            tasks:
              - name: chat
                priority: 1
              - name: code
                priority: 5
                max_wait: 20s
            api_keys:
              - key_id: openai_primary
                api_key: ${KEY_A}
                task_types: [chat]
                max_rpm: 600
                max_tpm: 100000
                cost_per_input_token: 0.0000025
                cost_per_output_token: 0.00001
              - key_id: openai_backup
                api_key: ${KEY_B}
                task_types: [chat]
                max_rpm: 300
                cost_per_input_token: 0.0000025
                cost_per_output_token: 0.00001
              - key_id: nim_code
                api_key: ${KEY_C}
                task_types: [code]
                max_rpm: 240
                max_concurrent: 2
                cost_per_token: 0.000002
            clients:
              - name: app
                key: ${CLIENT_KEY}
            """;

    private final AtomicBoolean trafficOn = new AtomicBoolean();
    private final AtomicInteger sent = new AtomicInteger();
    private Thread traffic;

    @AfterEach
    void stopTraffic() throws InterruptedException {
        trafficOn.set(false);
        if (traffic != null) {
            traffic.join(TIMEOUT.toMillis());
        }
    }

    @Test
    void theDashboardShowsLiveChartsOfEveryKeyFromKeymuxAlone() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM), "Chromium is not installed at " + CHROMIUM
                + " (apt-get install -y chromium; .ci/run does it)");
        startKeymux(yaml(CONFIG));
        startTraffic();
        // Enough history that the charts have something to draw before the page opens.
        Await.until("traffic started (40 requests sent)", () -> sent.get() >= 40, TIMEOUT);
        String origin = "http://127.0.0.1:" + keymux.adminPort();
        List<String> requested = new CopyOnWriteArrayList<>();
        List<String> problems = new CopyOnWriteArrayList<>();

        try (Playwright playwright = playwright();
                Browser browser = chromium(playwright);
                BrowserContext context = browser.newContext(new Browser.NewContextOptions()
                        .setViewportSize(1440, 900))) {
            // Every request the page makes, and none may leave keymux's own origin: anything else is
            // refused here, before it reaches the network, and recorded.
            context.route("**/*", route -> {
                String url = route.request().url();
                if (url.startsWith(origin + "/") || url.startsWith("data:")) {
                    route.resume();
                } else {
                    problems.add("request off 127.0.0.1: " + url);
                    route.abort();
                }
            });
            Page page = context.newPage();
            page.onRequest(request -> requested.add(request.url()));
            page.onRequestFailed(request -> problems.add("failed: " + request.url() + " " + request.failure()));
            page.onResponse(response -> {
                if (response.status() >= 400) {
                    problems.add("HTTP " + response.status() + ": " + response.url());
                }
            });
            page.onConsoleMessage(message -> {
                if (message.type().equals("error") || message.type().equals("warning")) {
                    problems.add("console " + message.type() + ": " + message.text());
                }
            });
            page.onPageError(error -> problems.add("page error: " + error));
            List<Request> adminCalls = new CopyOnWriteArrayList<>();
            page.onRequest(request -> {
                if (request.url().contains("/admin/")) {
                    adminCalls.add(request);
                }
            });

            page.navigate(origin + "/#token=" + ADMIN_TOKEN);

            // The token moved into sessionStorage and out of the address bar.
            page.waitForFunction("() => location.hash === ''", null, new Page.WaitForFunctionOptions().setTimeout(WAIT_MS));
            assertThat(page.url()).isEqualTo(origin + "/");
            assertThat(page.evaluate("() => sessionStorage.getItem('keymux-admin-token')")).isEqualTo(ADMIN_TOKEN);

            // Every key appears in the table and has its own chart.
            page.waitForFunction("() => document.querySelectorAll('#keys tr[data-key]').length === 3", null,
                    new Page.WaitForFunctionOptions().setTimeout(WAIT_MS));
            assertThat(page.locator("#keys tr[data-key]").allInnerTexts()).hasSize(3)
                    .anySatisfy(row -> assertThat(row).contains("openai_primary"))
                    .anySatisfy(row -> assertThat(row).contains("openai_backup"))
                    .anySatisfy(row -> assertThat(row).contains("nim_code"));
            assertThat(page.locator("#key-charts .mini").count()).isEqualTo(3);

            // At least three charts hold drawn data.
            page.waitForFunction("() => [...document.querySelectorAll('svg.chart')]"
                    + ".filter(s => Number(s.dataset.points) > 0 && s.querySelector('.series')).length >= 3", null,
                    new Page.WaitForFunctionOptions().setTimeout(WAIT_MS));
            Object drawn = page.evaluate("() => [...document.querySelectorAll('svg.chart')]"
                    + ".filter(s => Number(s.dataset.points) > 0).length");
            assertThat(((Number) drawn).intValue()).isGreaterThanOrEqualTo(3);

            // The page updates by itself: the request count changes without a reload.
            String before = page.locator("#requests").innerText();
            page.waitForFunction("before => document.getElementById('requests').textContent !== before", before,
                    new Page.WaitForFunctionOptions().setTimeout(WAIT_MS));
            assertThat(page.locator("#requests").innerText()).isNotEqualTo(before);
            assertThat(page.locator("#ready").innerText()).isEqualTo("ready");
            assertThat(page.locator("#health").innerText()).matches("\\d+");

            Files.createDirectories(SCREENSHOT.getParent());
            page.screenshot(new Page.ScreenshotOptions().setPath(SCREENSHOT).setFullPage(true));

            // The token only ever travels as a header.
            assertThat(adminCalls).isNotEmpty().allSatisfy(request -> {
                assertThat(request.url()).doesNotContain(ADMIN_TOKEN);
                assertThat(request.headers().get("authorization")).isEqualTo("Bearer " + ADMIN_TOKEN);
            });
        }
        assertThat(problems).as("console errors, failed or outside requests").isEmpty();
        assertThat(requested).isNotEmpty().allSatisfy(url -> assertThat(url).startsWith(origin + "/"));
        assertThat(Files.size(SCREENSHOT)).isPositive();
    }

    /**
     * Steady traffic on both tasks while the page is open: every eighth answer a 429 (so the charts
     * show failovers), answers taking 5 to 80 ms, and now and then a burst of code requests that
     * queues behind its key's two concurrent slots.
     */
    /** Playwright for Java, told never to download a browser of its own. */
    static Playwright playwright() {
        return Playwright.create(new Playwright.CreateOptions().setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
    }

    /** Debian's Chromium, headless, with the flags that keep it off this machine's closed network. */
    static Browser chromium(Playwright playwright) {
        return playwright.chromium().launch(new BrowserType.LaunchOptions()
                .setExecutablePath(CHROMIUM)
                .setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run")));
    }

    private void startTraffic() {
        stub.defaultReply(request -> {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            if (random.nextInt(8) == 0) {
                return Reply.json(429, "{\"error\":{\"message\":\"slow down\"}}").withHeader("Retry-After", "1");
            }
            return new Reply(200, Map.of("content-type", "application/json"),
                    Flux.just(UpstreamStub.CHAT_COMPLETION).delayElements(Duration.ofMillis(5 + random.nextInt(75))));
        });
        trafficOn.set(true);
        traffic = new Thread(() -> {
            int i = 0;
            while (trafficOn.get()) {
                chat(i % 3 == 0 ? "code" : "chat");
                if (i % 40 == 39) {
                    Flux.range(0, 6).parallel().runOn(reactor.core.scheduler.Schedulers.boundedElastic())
                            .doOnNext(n -> chat("code")).sequential().subscribe();
                }
                sent.incrementAndGet();
                i++;
                LockSupport.parkNanos(30_000_000); // pacing, about 25 requests a second
            }
        }, "dashboard-traffic");
        traffic.setDaemon(true);
        traffic.start();
    }
}
