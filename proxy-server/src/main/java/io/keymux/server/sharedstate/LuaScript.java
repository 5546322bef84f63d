package io.keymux.server.sharedstate;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One of the scripts under {@code src/main/resources/redis/}, with the shared prelude
 * {@code common.lua} in front, and its SHA-1 (the name {@code EVALSHA} knows it by).
 */
record LuaScript(String name, String body, String sha) {

    /** Reads {@code redis/common.lua} and {@code redis/<name>.lua} from the class path. */
    static LuaScript load(String name) {
        String body = read("common.lua") + "\n" + read(name + ".lua");
        return new LuaScript(name, body, sha1(body));
    }

    private static String read(String file) {
        String path = "/redis/" + file;
        try (InputStream in = LuaScript.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + ": missing from the class path (expected: a packaged resource)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": unreadable", e);
        }
    }

    private static String sha1(String body) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(body.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is a required JDK algorithm", e);
        }
    }
}
