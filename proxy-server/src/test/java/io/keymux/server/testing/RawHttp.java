package io.keymux.server.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * Sends bytes exactly as written, for requests a well-behaved client would normalise or refuse to
 * send (dot segments, conflicting framing headers). Runs on the test thread, never on an event loop.
 */
public final class RawHttp {
    private RawHttp() {}

    /** Sends the request and reads until the server closes the connection or 64 KiB arrived. */
    public static String exchange(int port, String request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            int n;
            while (received.size() < 65536 && (n = in.read(buf)) > 0) {
                received.write(buf, 0, n);
                String text = received.toString(StandardCharsets.ISO_8859_1);
                if (complete(text)) {
                    break;
                }
            }
            return received.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static boolean complete(String text) {
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) {
            return false;
        }
        String head = text.substring(0, end).toLowerCase(java.util.Locale.ROOT);
        int cl = head.indexOf("content-length:");
        if (cl < 0) {
            return false;
        }
        int lineEnd = head.indexOf("\r\n", cl);
        long length = Long.parseLong(head.substring(cl + 15, lineEnd < 0 ? head.length() : lineEnd).trim());
        return text.length() - end - 4 >= length;
    }

    /** The status code of a raw response. */
    public static int status(String response) {
        return Integer.parseInt(response.substring(9, 12));
    }
}
