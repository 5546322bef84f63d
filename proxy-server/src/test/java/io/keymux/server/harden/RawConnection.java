package io.keymux.server.harden;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** A raw keep-alive connection that sends bytes as written and reads one response at a time. */
final class RawConnection implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    RawConnection(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(15_000);
        in = socket.getInputStream();
    }

    RawConnection send(String request) throws IOException {
        return send(request.getBytes(StandardCharsets.ISO_8859_1));
    }

    RawConnection send(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return this;
    }

    /** Reads one response with a Content-Length body; whatever arrived if the server closes first. */
    String readResponse() throws IOException {
        byte[] buf = new byte[8192];
        while (true) {
            String text = pending.toString(StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end >= 0) {
                long length = contentLength(text.substring(0, end));
                if (length >= 0 && text.length() - end - 4 >= length) {
                    int total = (int) (end + 4 + length);
                    byte[] all = pending.toByteArray();
                    pending.reset();
                    pending.write(all, total, all.length - total);
                    return text.substring(0, total);
                }
            }
            int n = in.read(buf);
            if (n < 0) {
                String all = pending.toString(StandardCharsets.ISO_8859_1);
                pending.reset();
                return all;
            }
            pending.write(buf, 0, n);
        }
    }

    /** Whether the server closed the connection (reads to the end). */
    boolean closedByServer() throws IOException {
        return in.read() < 0;
    }

    private static long contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                return Long.parseLong(line.substring(15).trim());
            }
        }
        return -1;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
