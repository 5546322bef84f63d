package io.keymux.config.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keymux.config.model.ApiKeyConfig;
import io.keymux.config.model.AuthStyle;
import io.keymux.config.model.UpstreamConfig;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** The {@code upstreams} block, over the presets of {@link UpstreamPresets}. */
final class UpstreamsMapper extends SectionMapper {
    static final List<String> UPSTREAM_FIELDS = List.of("base_url", "auth");

    UpstreamsMapper(Diagnostics diag, Interpolator interpolator) {
        super(diag, interpolator);
    }

    Map<String, UpstreamConfig> upstreams(ObjectNode root) {
        Map<String, UpstreamConfig> upstreams = UpstreamPresets.presets();
        JsonNode node = field(root, "upstreams");
        if (node == null) {
            return upstreams;
        }
        if (!node.isObject()) {
            problem("upstreams", "must be an object of name: {base_url, auth} (got " + describe(node) + ")");
            return upstreams;
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String name = e.getKey();
            String path = "upstreams." + name;
            if (name.isEmpty() || name.equals(ApiKeyConfig.ANY_TASK)) {
                problem(path, "invalid upstream name");
                continue;
            }
            ObjectNode o = object(e.getValue(), path, UPSTREAM_FIELDS);
            if (o == null) {
                if (e.getValue().isNull()) {
                    problem(path, "must be an object with base_url and auth");
                }
                continue;
            }
            UpstreamConfig preset = upstreams.get(name);
            URI baseUrl = preset != null ? preset.baseUrl() : null;
            if (preset == null && !o.has("base_url")) {
                problem(path + ".base_url", "is required");
            }
            String url = string(o, "base_url", path + ".base_url");
            if (url != null) {
                baseUrl = baseUrl(url, o.get("base_url"), path + ".base_url");
            }
            AuthStyle auth = preset != null ? preset.auth() : AuthStyle.BEARER;
            String a = string(o, "auth", path + ".auth");
            if (a != null) {
                AuthStyle parsed = auth(a);
                if (parsed == null) {
                    problem(path + ".auth", "must be bearer, header:NAME or query:NAME (got " + got(o.get("auth")) + ")");
                } else {
                    auth = parsed;
                }
            }
            if (baseUrl != null) {
                upstreams.put(name, new UpstreamConfig(name, baseUrl, auth));
            }
        }
        return upstreams;
    }

    @Nullable URI baseUrl(String url, JsonNode raw, String path) {
        String expected = "must be an absolute http or https URL with a host, without user:password@, query or fragment (got "
                + got(raw) + ")";
        try {
            URI u = new URI(url.strip());
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
            if (!(scheme.equals("http") || scheme.equals("https")) || u.getHost() == null || u.getRawQuery() != null
                    || u.getRawFragment() != null || u.getRawUserInfo() != null) {
                problem(path, expected);
                return null;
            }
            String p = u.getRawPath() == null ? "" : u.getRawPath();
            while (p.endsWith("/")) {
                p = p.substring(0, p.length() - 1);
            }
            return URI.create(scheme + "://" + u.getRawAuthority() + p);
        } catch (URISyntaxException e) {
            problem(path, expected);
            return null;
        }
    }

    /** {@code bearer}, {@code header:NAME} or {@code query:NAME}; {@code null} if malformed. */
    static @Nullable AuthStyle auth(String spec) {
        if (spec.equals("bearer")) {
            return AuthStyle.BEARER;
        }
        int colon = spec.indexOf(':');
        if (colon < 0) {
            return null;
        }
        String kind = spec.substring(0, colon);
        String name = spec.substring(colon + 1);
        if (!TOKEN.matcher(name).matches()) {
            return null;
        }
        return switch (kind) {
            case "header" -> AuthStyle.header(name);
            case "query" -> AuthStyle.query(name);
            default -> null;
        };
    }
}
