package io.keymux.server.demo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads samples out of Prometheus text exposition, for the demo report. */
final class PrometheusText {

    /** One sample: metric name, labels, value. */
    record Sample(String name, Map<String, String> labels, double value) {}

    private PrometheusText() {}

    static List<Sample> parse(String text) {
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.lastIndexOf(' ');
            if (space < 0) {
                continue;
            }
            String name;
            Map<String, String> labels = new LinkedHashMap<>();
            if (brace >= 0 && brace < space) {
                name = line.substring(0, brace);
                int close = line.lastIndexOf('}');
                for (String pair : splitLabels(line.substring(brace + 1, close))) {
                    int eq = pair.indexOf('=');
                    if (eq > 0) {
                        labels.put(pair.substring(0, eq).trim(), unquote(pair.substring(eq + 1).trim()));
                    }
                }
            } else {
                name = line.substring(0, space).trim();
            }
            try {
                samples.add(new Sample(name, labels, Double.parseDouble(line.substring(space + 1).trim())));
            } catch (NumberFormatException skip) {
                // Not a sample line this reader understands; the report simply leaves it out.
            }
        }
        return samples;
    }

    /** Sums a metric's samples grouped by one label. */
    static Map<String, Double> sumBy(List<Sample> samples, String metric, String label) {
        Map<String, Double> sums = new LinkedHashMap<>();
        for (Sample s : samples) {
            if (s.name().equals(metric)) {
                sums.merge(s.labels().getOrDefault(label, ""), s.value(), Double::sum);
            }
        }
        return sums;
    }

    private static List<String> splitLabels(String body) {
        List<String> parts = new ArrayList<>();
        boolean quoted = false;
        int start = 0;
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c == '"' && (i == 0 || body.charAt(i - 1) != '\\')) {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                parts.add(body.substring(start, i));
                start = i + 1;
            }
        }
        if (start < body.length()) {
            parts.add(body.substring(start));
        }
        return parts;
    }

    private static String unquote(String s) {
        return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
    }
}
