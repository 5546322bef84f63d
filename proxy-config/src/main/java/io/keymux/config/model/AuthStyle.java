package io.keymux.config.model;

/**
 * How an upstream expects its key: {@code bearer} ({@code Authorization: Bearer KEY}),
 * {@code header:NAME} ({@code NAME: KEY}) or {@code query:NAME} ({@code ?NAME=KEY}).
 *
 * @param name the header or query parameter name; {@code Authorization} for bearer
 */
public record AuthStyle(Kind kind, String name) {

    /** Where the key goes. */
    public enum Kind {
        BEARER,
        HEADER,
        QUERY
    }

    public static final AuthStyle BEARER = new AuthStyle(Kind.BEARER, "Authorization");

    /** {@code header:NAME}. */
    public static AuthStyle header(String name) {
        return new AuthStyle(Kind.HEADER, name);
    }

    /** {@code query:NAME}. */
    public static AuthStyle query(String name) {
        return new AuthStyle(Kind.QUERY, name);
    }

    /** The config spelling: {@code bearer}, {@code header:NAME} or {@code query:NAME}. */
    @Override
    public String toString() {
        return switch (kind) {
            case BEARER -> "bearer";
            case HEADER -> "header:" + name;
            case QUERY -> "query:" + name;
        };
    }
}
