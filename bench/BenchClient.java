import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;

/**
 * The benchmark's open-loop HTTP/1.1 client (wrk2 is not in Debian): one thread, one NIO selector,
 * run as a single-file program ({@code java bench/BenchClient.java ...}) by {@code bench/dataplane.sh}.
 *
 * <ul>
 *   <li>{@code rate PORT PATH KEY BODY_FILE RPS SECONDS CONNS}: requests sent on a fixed schedule
 *   (request i is due at {@code t0 + i/RPS}) over CONNS keep-alive connections; a request that finds
 *   no idle connection waits and its latency still counts from the time it was due, so a stall is
 *   not hidden (no coordinated omission). Prints latency (due → last byte) and TTFB (due → first
 *   byte) percentiles.</li>
 *   <li>{@code streams PORT PATH KEY BODY_FILE COUNT SECONDS}: COUNT requests, each on a new
 *   connection, opened evenly over SECONDS; each is read to its end. Prints how many completed,
 *   TTFB percentiles (connect start → first byte) and the most open at once.</li>
 * </ul>
 * Everything goes to 127.0.0.1.
 */
public final class BenchClient {
    private static final class Conn {
        final SocketChannel ch;
        ByteBuffer out;
        long due;
        long firstByte = -1;
        // response parser
        final StringBuilder head = new StringBuilder();
        boolean inBody;
        boolean chunked;
        long remaining; // content bytes left (length mode) or in the current chunk
        int chunkState; // 0 size line, 1 data, 2 CRLF after data, 3 trailer
        final StringBuilder line = new StringBuilder();
        int status;

        Conn(SocketChannel ch) {
            this.ch = ch;
        }

        void reset() {
            firstByte = -1;
            head.setLength(0);
            inBody = false;
            chunked = false;
            remaining = 0;
            chunkState = 0;
            line.setLength(0);
            status = 0;
        }

        /**
         * One ready event: writes what is left of the request, or reads and parses what arrived.
         * Returns the time the answer completed, or -1 while it is not complete yet.
         */
        long step(SelectionKey k, ByteBuffer in, String closedMessage) throws IOException {
            if (k.isWritable()) {
                ch.write(out);
                if (!out.hasRemaining()) {
                    k.interestOps(SelectionKey.OP_READ);
                }
                return -1;
            }
            in.clear();
            int n = ch.read(in);
            long t = System.nanoTime();
            if (n < 0) {
                throw new IOException(closedMessage);
            }
            if (firstByte < 0) {
                firstByte = t;
            }
            in.flip();
            return feed(in) ? t : -1;
        }

        /** Feeds bytes; returns true when the response is complete. */
        boolean feed(ByteBuffer in) {
            while (in.hasRemaining()) {
                if (!inBody) {
                    char c = (char) in.get();
                    head.append(c);
                    int n = head.length();
                    if (n >= 4 && head.charAt(n - 1) == '\n' && head.charAt(n - 2) == '\r'
                            && head.charAt(n - 3) == '\n' && head.charAt(n - 4) == '\r') {
                        parseHead();
                        inBody = true;
                        if (!chunked && remaining == 0) {
                            return true;
                        }
                    }
                    continue;
                }
                if (!chunked) {
                    int take = (int) Math.min(remaining, in.remaining());
                    in.position(in.position() + take);
                    remaining -= take;
                    if (remaining == 0) {
                        return true;
                    }
                    continue;
                }
                switch (chunkState) {
                    case 0, 2, 3 -> {
                        char c = (char) in.get();
                        if (c != '\n') {
                            if (c != '\r') {
                                line.append(c);
                            }
                            continue;
                        }
                        String l = line.toString();
                        line.setLength(0);
                        if (chunkState == 2) {
                            chunkState = 0;
                        } else if (chunkState == 3) {
                            if (l.isEmpty()) {
                                return true;
                            }
                        } else {
                            int semi = l.indexOf(';');
                            remaining = Long.parseLong(semi < 0 ? l.trim() : l.substring(0, semi).trim(), 16);
                            chunkState = remaining == 0 ? 3 : 1;
                        }
                    }
                    default -> {
                        int take = (int) Math.min(remaining, in.remaining());
                        in.position(in.position() + take);
                        remaining -= take;
                        if (remaining == 0) {
                            chunkState = 2;
                        }
                    }
                }
            }
            return false;
        }

        private void parseHead() {
            String[] lines = head.toString().split("\r\n");
            status = Integer.parseInt(lines[0].split(" ")[1]);
            for (String l : lines) {
                int colon = l.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String name = l.substring(0, colon).trim().toLowerCase();
                String value = l.substring(colon + 1).trim();
                if (name.equals("content-length")) {
                    remaining = Long.parseLong(value);
                } else if (name.equals("transfer-encoding") && value.toLowerCase().contains("chunked")) {
                    chunked = true;
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        int port = Integer.parseInt(args[1]);
        String path = args[2];
        String key = args[3];
        byte[] body = Files.readAllBytes(Path.of(args[4]));
        byte[] request = ("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nAuthorization: Bearer " + key
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] whole = Arrays.copyOf(request, request.length + body.length);
        System.arraycopy(body, 0, whole, request.length, body.length);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
        if (mode.equals("rate")) {
            rate(address, whole, Integer.parseInt(args[5]), Integer.parseInt(args[6]), Integer.parseInt(args[7]));
        } else {
            streams(address, whole, Integer.parseInt(args[5]), Double.parseDouble(args[6]));
        }
    }

    private static void rate(InetSocketAddress address, byte[] request, int rps, int seconds, int conns)
            throws IOException {
        Selector selector = Selector.open();
        ArrayDeque<Conn> idle = new ArrayDeque<>();
        for (int i = 0; i < conns; i++) {
            SocketChannel ch = SocketChannel.open(address);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.configureBlocking(false);
            Conn c = new Conn(ch);
            ch.register(selector, 0, c);
            idle.add(c);
        }
        int total = rps * seconds;
        long period = 1_000_000_000L / rps;
        long[] latency = new long[total];
        long[] ttfb = new long[total];
        int done = 0;
        int errors = 0;
        int sent = 0;
        ArrayDeque<Long> waiting = new ArrayDeque<>();
        ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
        long t0 = System.nanoTime() + 10_000_000L;
        while (done + errors < total) {
            long now = System.nanoTime();
            while (sent < total && t0 + sent * period <= now) {
                waiting.add(t0 + sent * period);
                sent++;
            }
            while (!waiting.isEmpty() && !idle.isEmpty()) {
                Conn c = idle.poll();
                c.reset();
                c.due = waiting.poll();
                c.out = ByteBuffer.wrap(request);
                c.ch.write(c.out);
                c.ch.keyFor(selector).interestOps(c.out.hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
            }
            long next = sent < total ? t0 + sent * period : now + 100_000_000L;
            long waitNanos = Math.max(0, next - System.nanoTime());
            if (waitNanos < 50_000) {
                selector.selectNow();
            } else {
                selector.select(Math.max(1, waitNanos / 1_000_000));
            }
            Iterator<SelectionKey> it = selector.selectedKeys().iterator();
            while (it.hasNext()) {
                SelectionKey k = it.next();
                it.remove();
                Conn c = (Conn) k.attachment();
                long t = c.step(k, in, "connection closed by the server");
                if (t >= 0) {
                    if (c.status == 200) {
                        latency[done] = t - c.due;
                        ttfb[done] = c.firstByte - c.due;
                        done++;
                    } else {
                        errors++;
                    }
                    k.interestOps(0);
                    idle.add(c);
                }
            }
        }
        System.out.printf("rate %d/s for %d s over %d connections: %d ok, %d errors%n", rps, seconds, conns, done,
                errors);
        System.out.println("latency_us " + percentiles(latency, done));
        System.out.println("ttfb_us " + percentiles(ttfb, done));
    }

    private static void streams(InetSocketAddress address, byte[] request, int count, double seconds)
            throws IOException {
        Selector selector = Selector.open();
        long period = (long) (seconds * 1e9 / count);
        long[] ttfb = new long[count];
        int done = 0;
        int errors = 0;
        int opened = 0;
        int open = 0;
        int maxOpen = 0;
        ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
        long t0 = System.nanoTime() + 10_000_000L;
        long deadline = t0 + (long) (seconds * 1e9) + 120_000_000_000L;
        while (done + errors < count && System.nanoTime() < deadline) {
            long now = System.nanoTime();
            while (opened < count && t0 + opened * period <= now) {
                SocketChannel ch = SocketChannel.open();
                ch.configureBlocking(false);
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                Conn c = new Conn(ch);
                c.due = t0 + opened * period;
                c.out = ByteBuffer.wrap(request);
                boolean connected = ch.connect(address);
                ch.register(selector, connected ? SelectionKey.OP_WRITE : SelectionKey.OP_CONNECT, c);
                opened++;
                open++;
                maxOpen = Math.max(maxOpen, open);
            }
            long next = opened < count ? t0 + opened * period : now + 100_000_000L;
            long waitNanos = Math.max(0, next - System.nanoTime());
            if (waitNanos < 50_000) {
                selector.selectNow();
            } else {
                selector.select(Math.max(1, waitNanos / 1_000_000));
            }
            Iterator<SelectionKey> it = selector.selectedKeys().iterator();
            while (it.hasNext()) {
                SelectionKey k = it.next();
                it.remove();
                Conn c = (Conn) k.attachment();
                try {
                    if (k.isConnectable()) {
                        c.ch.finishConnect();
                        k.interestOps(SelectionKey.OP_WRITE);
                        continue;
                    }
                    if (c.step(k, in, "closed before the end of the answer") >= 0) {
                        if (c.status == 200) {
                            ttfb[done++] = c.firstByte - c.due;
                        } else {
                            errors++;
                        }
                        k.cancel();
                        c.ch.close();
                        open--;
                    }
                } catch (IOException e) {
                    errors++;
                    k.cancel();
                    c.ch.close();
                    open--;
                }
            }
        }
        System.out.printf("streams %d over %.1f s: %d complete, %d errors, %d unfinished, at most %d open%n", count,
                seconds, done, errors, count - done - errors, maxOpen);
        System.out.println("ttfb_us " + percentiles(ttfb, done));
        System.out.println("max_open " + maxOpen);
    }

    private static String percentiles(long[] nanos, int n) {
        if (n == 0) {
            return "p50 - p90 - p99 - p99.9 - max -";
        }
        long[] sorted = Arrays.copyOf(nanos, n);
        Arrays.sort(sorted);
        return String.format("p50 %d p90 %d p99 %d p99.9 %d max %d", at(sorted, 0.50), at(sorted, 0.90),
                at(sorted, 0.99), at(sorted, 0.999), sorted[n - 1] / 1000);
    }

    private static long at(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)] / 1000;
    }
}
