package io.keymux.server.sharedstate;

import java.util.Arrays;
import java.util.Objects;

/**
 * The {@code ARGV} of one script call as name/value pairs, which the scripts read by name
 * ({@code named_args()} in {@code common.lua}): a value cannot land in another's place, and a name
 * a script reads that the call did not send fails the call instead of quietly meaning "unset".
 * Sized up front, so a call that sends fewer arguments than it declares fails here, at its first
 * use, rather than in Redis.
 *
 * <pre>{@code
 * String[] argv = new ScriptArgs(2).put("rpm", "600").flag("probe", false).toArray();
 * // {"rpm", "600", "probe", "0"}
 * }</pre>
 */
final class ScriptArgs {
    private final String[] argv;
    private int at;

    /** Room for {@code count} arguments. */
    ScriptArgs(int count) {
        this.argv = new String[2 * count];
    }

    /** The argument {@code name} is {@code value} ({@code ""} for "unset", as the scripts read it). */
    ScriptArgs put(String name, String value) {
        if (at == argv.length) {
            throw new IllegalStateException("script argument " + name + ": more than the " + argv.length / 2
                    + " declared");
        }
        argv[at++] = Objects.requireNonNull(name, "name");
        argv[at++] = Objects.requireNonNull(value, name);
        return this;
    }

    /** The argument {@code name} is the number {@code value}. */
    ScriptArgs put(String name, long value) {
        return put(name, Long.toString(value));
    }

    /** The argument {@code name} is {@code 1} or {@code 0}. */
    ScriptArgs flag(String name, boolean value) {
        return put(name, value ? "1" : "0");
    }

    /** The pairs, for {@code EVALSHA}: every declared argument must have been put. */
    String[] toArray() {
        if (at != argv.length) {
            throw new IllegalStateException("script arguments: " + at / 2 + " of the " + argv.length / 2
                    + " declared (" + Arrays.toString(Arrays.copyOf(argv, at)) + ")");
        }
        return argv;
    }
}
