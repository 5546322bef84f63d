package io.keymux.server.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import io.keymux.config.testing.Await;
import io.keymux.server.testing.UpstreamStub;
import io.keymux.server.testing.UpstreamStub.Reply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * The dashboard's layout at the widths people use (1,280, 1,400 and 1,920 px), measured in Debian's
 * headless Chromium against a running keymux whose keys are in the states with the longest names:
 * one {@code disabled} (its upstream answers 401 {@code invalid_api_key}), one
 * {@code quota_exhausted} (429 {@code insufficient_quota}), one cooling down now and then.
 *
 * <p>At each width the page itself is asked, in JavaScript, whether anything overflows: an element
 * whose content is wider than its box (unless it scrolls on purpose, or truncates with an ellipsis
 * and keeps the full text in a {@code title}), text of one chart drawn over another chart's, a
 * table column past its container or the viewport. A disabled key's row says why. Skipped only
 * when Chromium is not installed. Screenshots go to {@code target/dashboard-WIDTH.png}.
 */
class DashboardLayoutTest extends ObserveTestBase {
    private static final double WAIT_MS = 30_000;
    private static final List<Integer> WIDTHS = List.of(1280, 1400, 1920);

    private static final String CONFIG = """
            admin: { token: "${ADMIN_TOKEN}" }
            tasks:
              - name: chat
                priority: 1
              - name: long_document_summarization
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
              - key_id: openai_backup_quota
                api_key: ${KEY_B}
                task_types: [chat]
                max_rpm: 300
                max_tpm: 40000
                cost_per_input_token: 0.0000025
                cost_per_output_token: 0.00001
              - key_id: openai_legacy_revoked
                api_key: ${KEY_D}
                task_types: [chat, long_document_summarization]
                max_rpm: 300
                max_concurrent: 4
              - key_id: nim_summaries
                api_key: ${KEY_C}
                task_types: [long_document_summarization]
                max_rpm: 240
                max_tpm: 200000
                max_concurrent: 2
                cost_per_token: 0.000002
            clients:
              - name: app
                key: ${CLIENT_KEY}
            """;

    /** OpenAI's answer to a revoked or mistyped key, as its API sends it. */
    private static final String OPENAI_401 = """
            {"error":{"message":"Incorrect API key provided: sk-up***e2c7. You can find your API key at \
            https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,\
            "code":"invalid_api_key"}}""";
    /** OpenAI's answer when the account is out of credit. */
    private static final String OPENAI_QUOTA = """
            {"error":{"message":"You exceeded your current quota, please check your plan and billing details. \
            For more information on this error, read the docs: \
            https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota",\
            "param":null,"code":"insufficient_quota"}}""";

    /**
     * Everything that overflows, as readable lines; empty when the layout holds. Text is measured by
     * its rendered boxes (a Range over each text node, an SVG text's own box), clipped by every
     * ancestor that clips, and grouped by the chart, card or section it belongs to.
     */
    private static final String OVERFLOWS = """
            () => {
              const problems = [];
              const vw = document.documentElement.clientWidth;
              const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
                + ' "' + (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50) + '"';
              if (document.documentElement.scrollWidth > vw + 1) {
                problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px wide in a ' + vw + ' px viewport');
              }
              // 1. No element's content is wider than its box, unless the box scrolls on purpose or
              //    truncates with an ellipsis and keeps the whole text in a tooltip.
              for (const el of document.querySelectorAll('body *')) {
                if (!(el instanceof HTMLElement) || el.closest('[hidden]') || el.getClientRects().length === 0) continue;
                if (el.clientWidth === 0 || el.scrollWidth <= el.clientWidth + 1) continue;
                const cs = getComputedStyle(el);
                if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') continue;
                if (cs.overflowX === 'hidden' && cs.textOverflow === 'ellipsis' && el.closest('[title]')) continue;
                problems.push('overflows its box: ' + describe(el) + ' scrollWidth ' + el.scrollWidth + ' > clientWidth ' + el.clientWidth);
              }
              // 2. No text of one chart (or card, or section) is drawn over another's.
              const clipped = (rect, el) => {
                let r = {l: rect.left, t: rect.top, r: rect.right, b: rect.bottom};
                for (let a = el; a && a !== document.documentElement; a = a.parentElement) {
                  const cs = getComputedStyle(a);
                  if (cs.overflowX === 'visible' && cs.overflowY === 'visible') continue;
                  const c = a.getBoundingClientRect();
                  r = {l: Math.max(r.l, c.left), t: Math.max(r.t, c.top), r: Math.min(r.r, c.right), b: Math.min(r.b, c.bottom)};
                }
                return r;
              };
              const labels = [];
              const walker = document.createTreeWalker(document.getElementById('main'), NodeFilter.SHOW_TEXT);
              while (walker.nextNode()) {
                const node = walker.currentNode, parent = node.parentElement;
                if (!node.textContent.trim() || parent.closest('title')) continue;
                const group = parent.closest('.mini, .card, section');
                if (!group) continue;
                let rects;
                if (parent instanceof SVGElement) {
                  rects = [parent.getBoundingClientRect()];
                } else {
                  const range = document.createRange();
                  range.selectNodeContents(node);
                  rects = [...range.getClientRects()];
                }
                for (const rect of rects) {
                  const box = clipped(rect, parent);
                  if (box.r - box.l < 0.5 || box.b - box.t < 0.5) continue;
                  labels.push({group, box, text: node.textContent.trim().slice(0, 40), where: describe(group)});
                }
              }
              let overlaps = 0;
              for (let i = 0; i < labels.length && overlaps < 20; i++) {
                for (let j = i + 1; j < labels.length && overlaps < 20; j++) {
                  const a = labels[i], b = labels[j];
                  if (a.group === b.group || a.group.contains(b.group) || b.group.contains(a.group)) continue;
                  const w = Math.min(a.box.r, b.box.r) - Math.max(a.box.l, b.box.l);
                  const h = Math.min(a.box.b, b.box.b) - Math.max(a.box.t, b.box.t);
                  if (w > 0.5 && h > 0.5) {
                    overlaps++;
                    problems.push('"' + a.text + '" (' + a.where + ') overlaps "' + b.text + '" (' + b.where + ') by '
                      + w.toFixed(1) + ' x ' + h.toFixed(1) + ' px');
                  }
                }
              }
              // 3. Every column of every table ends inside its container and the viewport.
              for (const table of document.querySelectorAll('#main table')) {
                const box = table.parentElement.getBoundingClientRect();
                for (const cell of table.querySelectorAll('th, td')) {
                  const r = cell.getBoundingClientRect();
                  if (r.right > box.right + 0.5 || r.right > vw) {
                    problems.push('#' + table.id + ': column "' + table.rows[0].cells[cell.cellIndex].textContent
                      + '" ends at ' + r.right.toFixed(1) + ' px, its container at ' + box.right.toFixed(1)
                      + ' px, the viewport at ' + vw + ' px');
                    break;
                  }
                }
              }
              return problems;
            }
            """;

    /** Every chart has been drawn for the width its container has now (the page redraws on resize). */
    private static final String DRAWN_FOR_THIS_WIDTH = """
            () => {
              const charts = [...document.querySelectorAll('svg.chart')];
              return charts.length >= 7 && charts.every(s =>
                Number(s.getAttribute('width')) === Math.max(220, Math.floor(s.parentElement.clientWidth)));
            }
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
    void nothingOverflowsAt1280And1400And1920PixelsAndADisabledKeySaysWhy() throws Exception {
        assumeTrue(Files.isExecutable(DashboardBrowserTest.CHROMIUM), "Chromium is not installed at "
                + DashboardBrowserTest.CHROMIUM + " (apt-get install -y chromium; .ci/run does it)");
        startKeymux(yaml(CONFIG));
        startTraffic();
        Map<String, String> seen = new HashMap<>();
        Await.until(() -> "keys in their states (last seen: " + seen + ")", () -> {
            for (JsonNode k : adminJson("/admin/keys").path("keys")) {
                seen.put(k.path("key_id").asText(), k.path("status").asText());
            }
            return "disabled".equals(seen.get("openai_legacy_revoked"))
                    && "quota_exhausted".equals(seen.get("openai_backup_quota")) && sent.get() >= 40;
        }, TIMEOUT);
        String origin = "http://127.0.0.1:" + keymux.adminPort();

        try (Playwright playwright = DashboardBrowserTest.playwright();
                Browser browser = DashboardBrowserTest.chromium(playwright);
                BrowserContext context = browser.newContext(new Browser.NewContextOptions()
                        .setViewportSize(WIDTHS.get(0), 900))) {
            Page page = context.newPage();
            page.navigate(origin + "/#token=" + ADMIN_TOKEN);
            page.waitForSelector("#keys tr[data-key=\"openai_legacy_revoked\"] .state-disabled",
                    new Page.WaitForSelectorOptions().setTimeout(WAIT_MS));
            page.waitForSelector("#keys tr[data-key=\"openai_backup_quota\"] .state-quota_exhausted",
                    new Page.WaitForSelectorOptions().setTimeout(WAIT_MS));

            for (int width : WIDTHS) {
                page.setViewportSize(width, 900);
                page.waitForFunction(DRAWN_FOR_THIS_WIDTH, null, new Page.WaitForFunctionOptions().setTimeout(WAIT_MS));
                page.screenshot(new Page.ScreenshotOptions()
                        .setPath(Path.of("target", "dashboard-" + width + ".png")).setFullPage(true));

                assertThat(page.evaluate(OVERFLOWS)).as("what overflows at " + width + " px").asList().isEmpty();

                // The disabled key says why, in its row and in its chart's state label; no secret shows.
                String row = page.locator("#keys tr[data-key=\"openai_legacy_revoked\"]").innerText();
                assertThat(row).as("the disabled key's row at " + width + " px")
                        .contains("disabled").contains("401").containsIgnoringCase("invalid or revoked");
                assertThat(page.locator("#key-charts .state-disabled").getAttribute("title"))
                        .as("the disabled key's chart label tooltip").contains("401");
                String html = page.content();
                for (String secret : List.of(KEY_A, KEY_B, KEY_C, KEY_D, CLIENT, ADMIN_TOKEN)) {
                    assertThat(html).as("the page's HTML").doesNotContain(secret);
                }
            }
        }
    }

    /**
     * Chat and summarization traffic: the revoked key answers 401 {@code invalid_api_key} (it is
     * disabled after its first request), the backup 429 {@code insufficient_quota} (out of credit),
     * the primary now and then 429 with {@code Retry-After: 1} (it cools down for a second).
     */
    private void startTraffic() {
        stub.defaultReply(request -> {
            String auth = String.valueOf(request.headers().get("Authorization"));
            if (auth.equals("Bearer " + KEY_D)) {
                return Reply.json(401, OPENAI_401);
            }
            if (auth.equals("Bearer " + KEY_B)) {
                return Reply.json(429, OPENAI_QUOTA);
            }
            ThreadLocalRandom random = ThreadLocalRandom.current();
            if (auth.equals("Bearer " + KEY_A) && random.nextInt(10) == 0) {
                return Reply.json(429, "{\"error\":{\"message\":\"slow down\",\"type\":\"requests\","
                        + "\"param\":null,\"code\":\"rate_limit_exceeded\"}}").withHeader("Retry-After", "1");
            }
            return new Reply(200, Map.of("content-type", "application/json"),
                    Flux.just(UpstreamStub.CHAT_COMPLETION).delayElements(Duration.ofMillis(5 + random.nextInt(75))));
        });
        trafficOn.set(true);
        traffic = new Thread(() -> {
            int i = 0;
            while (trafficOn.get()) {
                chat(i % 3 == 0 ? "long_document_summarization" : "chat");
                sent.incrementAndGet();
                i++;
                LockSupport.parkNanos(30_000_000); // pacing, about 25 requests a second
            }
        }, "dashboard-layout-traffic");
        traffic.setDaemon(true);
        traffic.start();
    }
}
