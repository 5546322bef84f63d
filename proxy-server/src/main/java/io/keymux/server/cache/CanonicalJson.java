package io.keymux.server.cache;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One canonical form of a JSON body, so requests that differ only in key order or whitespace share a
 * cache key: object members sorted by name, no whitespace, numbers written as parsed (exact decimals,
 * so {@code 0.1} stays {@code 0.1}; {@code 1} and {@code 1.0} stay different, as an upstream may treat
 * them differently), strings re-escaped by one writer.
 */
public final class CanonicalJson {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .build();
    private static final JsonFactory FACTORY = MAPPER.getFactory();

    private CanonicalJson() {}

    /** The canonical bytes of {@code body}, or {@code null} when it is not one well-formed JSON value. */
    public static byte @Nullable [] of(byte[] body) {
        try {
            JsonNode tree = MAPPER.readTree(body);
            if (tree == null || tree.isMissingNode()) {
                return null;
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(body.length);
            try (JsonGenerator gen = FACTORY.createGenerator(out)) {
                write(tree, gen);
            }
            return out.toByteArray();
        } catch (IOException e) {
            return null; // malformed (or duplicate keys): not cacheable, forwarded as it came
        }
    }

    private static void write(JsonNode node, JsonGenerator gen) throws IOException {
        switch (node.getNodeType()) {
            case OBJECT -> {
                List<Map.Entry<String, JsonNode>> members = new ArrayList<>(node.size());
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    members.add(it.next());
                }
                Collections.sort(members, Map.Entry.comparingByKey());
                gen.writeStartObject();
                for (Map.Entry<String, JsonNode> m : members) {
                    gen.writeFieldName(m.getKey());
                    write(m.getValue(), gen);
                }
                gen.writeEndObject();
            }
            case ARRAY -> {
                gen.writeStartArray();
                for (JsonNode element : node) {
                    write(element, gen);
                }
                gen.writeEndArray();
            }
            case NUMBER -> {
                if (node.isBigDecimal()) {
                    gen.writeNumber(node.decimalValue().toString());
                } else {
                    gen.writeNumber(node.bigIntegerValue());
                }
            }
            case STRING -> gen.writeString(node.textValue());
            case BOOLEAN -> gen.writeBoolean(node.booleanValue());
            case NULL -> gen.writeNull();
            default -> throw new IOException("unexpected JSON node " + node.getNodeType());
        }
    }
}
