package io.keymux.server.sharedstate;

/**
 * Which native transport Lettuce, the Redis client, runs on. Where both epoll and io_uring are
 * available Lettuce picks epoll and logs a warning for every client it makes, so a test run or a
 * replica's log fills with a warning that asks nothing of the operator. keymux makes that same
 * choice explicitly instead; an operator's own {@code -Dio.lettuce.core.iouring} or
 * {@code -Dio.lettuce.core.epoll} is left as given.
 */
public final class LettuceTransport {
    static final String IO_URING = "io.lettuce.core.iouring";
    static final String EPOLL = "io.lettuce.core.epoll";

    private LettuceTransport() {}

    /**
     * Turns Lettuce's io_uring off unless told otherwise, before its first client: Lettuce reads the
     * property once, when it first looks for a transport.
     */
    public static void preferEpoll() {
        if (System.getProperty(IO_URING) == null && !"false".equalsIgnoreCase(System.getProperty(EPOLL))) {
            System.setProperty(IO_URING, "false");
        }
    }
}
