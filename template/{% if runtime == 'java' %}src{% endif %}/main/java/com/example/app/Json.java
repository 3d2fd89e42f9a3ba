package com.example.app;

/** Just enough JSON for this app: flat objects of string values. */
final class Json {

    private Json() {
    }

    /** {"key": "value", ...} from alternating keys and values. */
    static String object(String... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values must come in pairs");
        }
        StringBuilder out = new StringBuilder("{");
        for (int i = 0; i < keysAndValues.length; i += 2) {
            if (i > 0) {
                out.append(',');
            }
            quote(out, keysAndValues[i]).append(':');
            quote(out, keysAndValues[i + 1]);
        }
        return out.append('}').toString();
    }

    /** A JSON string literal; control characters, quotes and backslashes are escaped. */
    static String quote(String value) {
        return quote(new StringBuilder(), value).toString();
    }

    private static StringBuilder quote(StringBuilder out, String value) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"');
    }
}
